/**
 * Progress of a long command on stderr: one line redrawn in place on a terminal, and in a
 * pipe or a log a line per step and per tenth of it, so that a journal shows it moving
 * without thousands of lines.
 *
 * @module
 */
import type { OutputStream } from './io.js'

const BAR_WIDTH = 24

export class ProgressLine {
  private current: { step: string; total: number; shownTenth: number } | undefined
  private drawn = false

  constructor(private readonly stream: OutputStream) {}

  update(step: string, done: number, total: number): void {
    if (this.current?.step !== step) {
      this.finishLine()
      this.current = { step, total, shownTenth: -1 }
    }
    const fraction = total === 0 ? 1 : Math.min(1, done / total)
    if (this.stream.isTTY) {
      const filled = Math.round(fraction * BAR_WIDTH)
      const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`
      const percent = `${Math.floor(fraction * 100)}%`.padStart(4)
      this.stream.write(`\r\x1b[2K${step.padEnd(14)} [${bar}] ${percent} ${done}/${total}`)
      this.drawn = true
      return
    }
    const tenth = Math.floor(fraction * 10)
    if (tenth === this.current.shownTenth) return
    this.current.shownTenth = tenth
    this.stream.write(`${step}: ${done}/${total} rows (${tenth * 10}%)\n`)
  }

  /** Ends the display after the last step. */
  done(): void {
    this.finishLine()
    this.current = undefined
  }

  /** Ends the display after a failure, leaving the last figures visible. */
  abandon(): void {
    this.done()
  }

  private finishLine(): void {
    if (this.drawn) this.stream.write('\n')
    this.drawn = false
  }
}
