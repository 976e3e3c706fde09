// Child processes of the benchmark: every one is tracked so that a scenario that times out, or
// the whole run ending, stops exactly the processes it started (by their pid, nothing broader).
import { fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'

import { WORKERS_DIR } from './paths.js'

const live = new Set()

export function track(child) {
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

/** Sends SIGTERM to every child still running, then SIGKILL to any left after `graceMs`. */
export async function stopAll(graceMs = 3000) {
  const children = [...live]
  await Promise.all(children.map((child) => stop(child, graceMs)))
}

/** Stops one child: SIGTERM, then SIGKILL after `graceMs`. Resolves once it has exited. */
export async function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  try {
    process.kill(child.pid, 'SIGTERM')
  } catch {
    return
  }
  const timer = setTimeout(() => {
    try {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL')
    } catch {}
  }, graceMs)
  await exited
  clearTimeout(timer)
}

/**
 * Forks a worker from bench/workers with an IPC channel and resolves once it sends
 * `{ type: 'ready', ... }` (the message is returned), or at once with `waitReady: false`.
 * The last 8 kB of its stderr are kept for error reports.
 */
export async function startWorker(
  name,
  args = [],
  { env, execArgv = [], readyTimeoutMs = 60_000, waitReady = true, discardStderr = false } = {},
) {
  const child = track(
    fork(join(WORKERS_DIR, name), args, {
      env: { ...process.env, ...env },
      execArgv,
      stdio: ['ignore', 'ignore', discardStderr ? 'ignore' : 'pipe', 'ipc'],
    }),
  )
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-8000)
  })
  child.stderrText = () => stderr
  if (!waitReady) return { child, ready: undefined }
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name} not ready after ${readyTimeoutMs} ms: ${stderr}`))
    }, readyTimeoutMs)
    child.on('message', function onMessage(message) {
      if (message?.type === 'ready') {
        clearTimeout(timer)
        child.off('message', onMessage)
        resolve(message)
      } else if (message?.type === 'error') {
        clearTimeout(timer)
        child.off('message', onMessage)
        reject(new Error(`${name}: ${message.message}`))
      }
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready: ${stderr}`))
    })
  })
  child.removeAllListeners('exit')
  child.once('exit', () => live.delete(child))
  return { child, ready }
}

/** Waits for the next message of a given type from a worker. */
export function nextMessage(child, type, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`no ${type} message within ${timeoutMs} ms: ${child.stderrText?.() ?? ''}`))
    }, timeoutMs)
    const onMessage = (message) => {
      if (message?.type === type) {
        cleanup()
        resolve(message)
      } else if (message?.type === 'error') {
        cleanup()
        reject(new Error(message.message))
      }
    }
    const onExit = (code, signal) => {
      cleanup()
      reject(
        new Error(
          `worker exited (${code ?? signal}) before ${type}: ${child.stderrText?.() ?? ''}`,
        ),
      )
    }
    const cleanup = () => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

/**
 * Runs a command to completion and resolves with its exit code, output and wall time in ms
 * (measured from spawn to exit, as a shell's `time` would).
 */
export function runCommand(command, args, { env, timeoutMs = 60_000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = track(
      spawn(command, args, { env: env ?? process.env, cwd, stdio: ['ignore', 'pipe', 'pipe'] }),
    )
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk))
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {}
      reject(new Error(`${command} ${args.join(' ')} took over ${timeoutMs} ms`))
    }, timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('exit', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6
      clearTimeout(timer)
      resolve({ code, stdout, stderr, wallMs })
    })
  })
}

/** For workers: report a failure to the parent and exit non-zero. */
export function failWorker(error) {
  const message = error instanceof Error ? `${error.stack ?? error.message}` : String(error)
  if (process.send) process.send({ type: 'error', message }, () => process.exit(1))
  else {
    console.error(message)
    process.exit(1)
  }
}
