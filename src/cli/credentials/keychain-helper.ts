/**
 * Runs one keychain operation in a short-lived Node child process.
 *
 * The native binding blocks the calling thread until D-Bus answers. A bus that accepts the
 * connection and then stays silent, or an unlock prompt nobody answers, would freeze the CLI for
 * good, so the call happens in a child that is killed after a deadline. The request, secret
 * included, travels on the child's stdin and the reply comes back as one JSON document on stdout:
 * argv and the environment are visible to other users through /proc, stdin is not.
 *
 * @module
 */

export type KeychainOperation = 'get' | 'set' | 'delete'

export interface HelperRequest {
  /** Absolute path of the binding's entry file, resolved by the parent. */
  binding: string
  service: string
  account: string
  op: KeychainOperation
  secret?: string
}

export type HelperReply =
  | { ok: true; value: string | boolean | null }
  | { ok: false; reason: 'unavailable' | 'failed'; message: string }

export type HelperOutcome =
  | { kind: 'reply'; reply: HelperReply }
  | { kind: 'timeout' }
  | { kind: 'crashed'; exitCode: number | null; signal: NodeJS.Signals | null }

/**
 * The child's source, run with `node --input-type=commonjs -e`. Keeping it a string means the
 * same code runs from src/ under vitest and from the compiled dist/, with no extra file to ship.
 *
 * It pins the Secret Service store on Linux: left to itself the binding silently falls back to
 * the kernel keyring, which forgets everything at reboot. A failing constructor means no store
 * is reachable ('unavailable'), as does keyring-rs's "Couldn't access platform storage" (a
 * locked collection whose prompt was dismissed, or no default collection). Any other error is
 * 'failed'. Messages are scrubbed of the secret, and a request that cannot be parsed is reported
 * without echoing it, since JSON.parse quotes the text it rejects.
 */
export const HELPER_SOURCE = `'use strict'
// cryptorg keychain helper
const chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', () => {
  let request
  try {
    request = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return reply({ ok: false, reason: 'failed', message: 'unreadable request' })
  }
  const secret = typeof request.secret === 'string' ? request.secret : ''
  const fail = (reason, error) => {
    let message = String((error && error.message) || error || 'unknown error')
    if (secret !== '') message = message.split(secret).join('[redacted]')
    return reply({ ok: false, reason, message })
  }
  let Entry
  try {
    Entry = require(request.binding).Entry
  } catch (error) {
    return fail('unavailable', 'the keyring binding could not be loaded')
  }
  let entry
  try {
    entry = new Entry(request.service, request.account, { linux: { store: 'secret-service' } })
  } catch (error) {
    return fail('unavailable', error)
  }
  try {
    if (request.op === 'get') return reply({ ok: true, value: entry.getPassword() })
    if (request.op === 'set') {
      entry.setPassword(secret)
      return reply({ ok: true, value: null })
    }
    if (request.op === 'delete') return reply({ ok: true, value: entry.deleteCredential() })
    return fail('failed', 'unknown operation')
  } catch (error) {
    const text = String((error && error.message) || '')
    return fail(/couldn't access/i.test(text) ? 'unavailable' : 'failed', error)
  }
})
function reply(value) {
  process.stdout.write(JSON.stringify(value))
}
`

/** Replies larger than this are not ours; stop reading rather than buffer without bound. */
const MAX_REPLY_BYTES = 1024 * 1024

/**
 * Runs one request in a child with the given environment and settles within about `timeoutMs`:
 * with the child's reply, or `timeout` once the child has been killed and has exited.
 */
export async function runHelper(
  request: HelperRequest,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<HelperOutcome> {
  // Loaded on first use: child_process is a start-up cost of every command that imports this.
  const { spawn } = await import('node:child_process')
  return new Promise((resolve, reject) => {
    let child
    try {
      child = spawn(process.execPath, ['--input-type=commonjs', '-e', HELPER_SOURCE], {
        env,
        // stderr is dropped: nothing on it is meant for the user, and a crash trace could quote
        // the request.
        stdio: ['pipe', 'pipe', 'ignore'],
        windowsHide: true,
      })
    } catch (error) {
      reject(error)
      return
    }
    let timedOut = false
    let settled = false
    const chunks: Buffer[] = []
    let size = 0
    const settle = (outcome: HelperOutcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(outcome)
    }
    const fromOutput = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      const reply = parseReply(Buffer.concat(chunks).toString('utf8'))
      settle(reply ? { kind: 'reply', reply } : { kind: 'crashed', exitCode, signal })
    }
    const timer = setTimeout(() => {
      if (child.exitCode !== null || child.signalCode !== null) {
        // It finished in time but its pipes are still open: judge by what it wrote.
        fromOutput(child.exitCode, child.signalCode)
        return
      }
      timedOut = true
      // SIGKILL, because a thread stuck in a native call may never run a signal handler.
      child.kill('SIGKILL')
    }, timeoutMs)

    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_REPLY_BYTES) {
        child.kill('SIGKILL')
        return
      }
      chunks.push(chunk)
    })
    child.once('error', (error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(error)
    })
    // A timeout settles on 'exit', once the kill has landed: the pipes may stay open longer if
    // the child ever left a descendant behind, and the caller must not wait for that. A normal
    // exit settles on 'close', when all of stdout has been read.
    child.once('exit', (exitCode, signal) => {
      if (timedOut) settle({ kind: 'timeout' })
      else if (exitCode !== 0) settle({ kind: 'crashed', exitCode, signal })
    })
    child.once('close', (exitCode, signal) => {
      if (timedOut) settle({ kind: 'timeout' })
      else fromOutput(exitCode, signal)
    })
    // A child that dies before reading its stdin makes this write fail with EPIPE; the exit
    // handlers above report that, so the stream error itself is only swallowed.
    child.stdin.on('error', () => {})
    child.stdin.end(JSON.stringify(request))
  })
}

function parseReply(text: string): HelperReply | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const reply = value as Record<string, unknown>
  if (reply['ok'] === true) {
    const result = reply['value']
    if (result === null || typeof result === 'string' || typeof result === 'boolean') {
      return { ok: true, value: result }
    }
    return undefined
  }
  if (
    reply['ok'] === false &&
    (reply['reason'] === 'unavailable' || reply['reason'] === 'failed') &&
    typeof reply['message'] === 'string'
  ) {
    return { ok: false, reason: reply['reason'], message: reply['message'] }
  }
  return undefined
}
