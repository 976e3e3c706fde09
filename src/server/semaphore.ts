/**
 * At most `size` tasks at once; the rest wait their turn in order. Used to keep password
 * hashing, which runs on libuv's small shared thread pool, from taking every thread that
 * token checks and file I/O of other requests need.
 *
 * @module
 */
export interface Semaphore {
  run<T>(task: () => Promise<T>): Promise<T>
}

export function createSemaphore(size: number): Semaphore {
  let running = 0
  const waiting: (() => void)[] = []
  return {
    async run(task) {
      if (running >= size) await new Promise<void>((resolve) => waiting.push(resolve))
      running++
      try {
        return await task()
      } finally {
        running--
        waiting.shift()?.()
      }
    },
  }
}
