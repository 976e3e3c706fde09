// Access tokens for the benchmark's users, minted through the library as a user's sign-in
// would be (production password cost), valid for a day so that no run outlives them.
import { importLibrary } from './paths.js'

export async function mintToken(databasePath, username, password, accessTtlSeconds = 86_400) {
  const { open } = await importLibrary()
  const c = await open({ databasePath, auth: { accessTtlSeconds } })
  try {
    return (await c.auth.login(username, password)).access
  } finally {
    await c.close()
  }
}

/** The organizations of a generated database owned by owner `index`, and that owner. */
export function ownerOf(meta, index) {
  const owner = meta.owners[index]
  const orgs = meta.orgs.filter((org) => org.owner === index)
  return { ...owner, orgs }
}
