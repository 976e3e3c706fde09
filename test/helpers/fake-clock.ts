/**
 * Test doubles for time: a clock that only moves when told to, and a sleep that moves it.
 *
 * @module
 */
import type { Clock, Sleep } from '../../src/index.js'

/** A {@link Clock} under the test's control. */
export interface FakeClock extends Clock {
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void
  /** Sets the clock to a moment given as a Date or ISO-8601 text. */
  set(moment: Date | string): void
  /** The current time in epoch milliseconds. */
  ms(): number
}

/**
 * Creates a clock standing still at `start`. With `stepMs`, every `now()` call moves it forward by
 * that much afterwards, so consecutive readings differ.
 */
export function fakeClock(
  start: Date | string = '2024-09-17T12:00:00.000Z',
  stepMs = 0,
): FakeClock {
  let current = new Date(start).getTime()
  return {
    now: () => {
      const moment = new Date(current)
      current += stepMs
      return moment
    },
    advance: (ms) => {
      current += ms
    },
    set: (moment) => {
      current = new Date(moment).getTime()
    },
    ms: () => current,
  }
}

/** A {@link Sleep} that returns at once after moving `clock` forward, and logs each wait. */
export function fakeSleep(clock: FakeClock): Sleep & { calls: number[] } {
  const calls: number[] = []
  const sleep = async (ms: number) => {
    calls.push(ms)
    clock.advance(ms)
  }
  return Object.assign(sleep, { calls })
}
