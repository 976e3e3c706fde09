/**
 * Global setup of the `postgres` project: starts and ends with no test schema left behind.
 */
import { dropTestSchemas } from '../helpers/backend.js'

export async function setup(): Promise<() => Promise<void>> {
  await dropTestSchemas()
  return async () => {
    await dropTestSchemas()
  }
}
