/**
 * A real Secret Service for tests: a private D-Bus session started with dbus-run-session, with
 * gnome-keyring unlocked inside it and fresh HOME and XDG folders, so nothing here can reach the
 * keyring of whoever runs the tests.
 *
 * @module
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const TOOLS = ['dbus-run-session', 'gnome-keyring-daemon', 'dbus-send', 'bash']
const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
export const skipReason: string | undefined =
  process.platform !== 'linux'
    ? 'Linux only'
    : missing.length > 0
      ? `needs ${missing.join(', ')}: apt-get install gnome-keyring dbus`
      : undefined

export interface Session {
  env: Record<string, string>
  child: ChildProcessWithoutNullStreams
  root: string
}

/** Starts the private session and resolves once gnome-keyring is unlocked in it. */
export async function startSession(): Promise<Session> {
  const root = mkdtempSync(join(tmpdir(), 'cryptorg-secret-service-'))
  const home = join(root, 'home')
  const runtime = join(root, 'run')
  mkdirSync(home, { mode: 0o700 })
  mkdirSync(runtime, { mode: 0o700 })
  const base = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    XDG_RUNTIME_DIR: runtime,
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
  }
  // The keyring password goes in on stdin; the session stays up until our stdin closes.
  const script =
    'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 1; ' +
    'printf "%s\\n" "$DBUS_SESSION_BUS_ADDRESS"; exec cat >/dev/null'
  const child = spawn('dbus-run-session', ['--', 'bash', '-c', script], { env: base })
  child.stderr.resume()
  const address = await new Promise<string>((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error('the D-Bus session did not start')), 15_000)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk
      const newline = text.indexOf('\n')
      if (newline >= 0) {
        clearTimeout(timer)
        resolve(text.slice(0, newline))
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the D-Bus session ended early (exit ${code})`))
    })
  })
  return { env: { ...base, DBUS_SESSION_BUS_ADDRESS: address }, child, root }
}

export async function stopSession(session: Session): Promise<void> {
  const { child } = session
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    // Closing stdin ends `cat`, then dbus-run-session stops the bus and gnome-keyring with it.
    child.stdin.end()
    const timer = setTimeout(() => child.kill('SIGTERM'), 5000)
    await exited
    clearTimeout(timer)
  }
  rmSync(session.root, { recursive: true, force: true })
}

/** Object paths of the Secret Service items with these attributes (via dbus-send). */
export function searchItems(
  env: Record<string, string>,
  attributes: Record<string, string>,
): string[] {
  const pairs = Object.entries(attributes).flat().join(',')
  const result = spawnSync(
    'dbus-send',
    [
      '--session',
      '--print-reply',
      '--dest=org.freedesktop.secrets',
      '/org/freedesktop/secrets',
      'org.freedesktop.Secret.Service.SearchItems',
      `dict:string:string:${pairs}`,
    ],
    { env, encoding: 'utf8' },
  )
  if (result.status !== 0) throw new Error(`dbus-send failed: ${result.stderr}`)
  return [...result.stdout.matchAll(/object path "([^"]+)"/g)].map((match) => match[1]!)
}
