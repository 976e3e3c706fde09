/**
 * Where cryptorg keeps its database unless told otherwise.
 *
 * @module
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

import { CryptorgError } from '../errors.js'

export const DATABASE_FILE_NAME = 'cryptorg.db'

/**
 * The platform's per-user data directory for cryptorg: `$XDG_DATA_HOME/cryptorg` (or
 * `~/.local/share/cryptorg`) on Linux and other Unixes, `~/Library/Application Support/cryptorg`
 * on macOS, `%LOCALAPPDATA%\cryptorg` on Windows.
 */
export function defaultDataDirectory(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  platform: NodeJS.Platform,
): string {
  if (platform === 'darwin')
    return join(withHome(home), 'Library', 'Application Support', 'cryptorg')
  if (platform === 'win32') {
    return join(env['LOCALAPPDATA'] || join(withHome(home), 'AppData', 'Local'), 'cryptorg')
  }
  // XDG says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env['XDG_DATA_HOME']
  const base = xdg && xdg.startsWith('/') ? xdg : join(withHome(home), '.local', 'share')
  return join(base, 'cryptorg')
}

/**
 * The platform's per-user configuration directory for cryptorg: `$XDG_CONFIG_HOME/cryptorg`
 * (or `~/.config/cryptorg`) on Linux and other Unixes, `~/Library/Preferences/cryptorg` on
 * macOS, `%APPDATA%\cryptorg` on Windows. `CRYPTORG_CONFIG_DIR` overrides it.
 */
export function defaultConfigDirectory(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  platform: NodeJS.Platform,
): string {
  const chosen = env['CRYPTORG_CONFIG_DIR']
  if (chosen && chosen.trim() !== '') return chosen
  if (platform === 'darwin') return join(withHome(home), 'Library', 'Preferences', 'cryptorg')
  if (platform === 'win32') {
    return join(env['APPDATA'] || join(withHome(home), 'AppData', 'Roaming'), 'cryptorg')
  }
  const xdg = env['XDG_CONFIG_HOME']
  const base = xdg && xdg.startsWith('/') ? xdg : join(withHome(home), '.config')
  return join(base, 'cryptorg')
}

/**
 * The platform's per-user cache directory for cryptorg: `$XDG_CACHE_HOME/cryptorg` (or
 * `~/.cache/cryptorg`) on Linux and other Unixes, `~/Library/Caches/cryptorg` on macOS,
 * `%LOCALAPPDATA%\cryptorg\Cache` on Windows.
 */
export function defaultCacheDirectory(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  platform: NodeJS.Platform,
): string {
  if (platform === 'darwin') return join(withHome(home), 'Library', 'Caches', 'cryptorg')
  if (platform === 'win32') {
    return join(
      env['LOCALAPPDATA'] || join(withHome(home), 'AppData', 'Local'),
      'cryptorg',
      'Cache',
    )
  }
  const xdg = env['XDG_CACHE_HOME']
  const base = xdg && xdg.startsWith('/') ? xdg : join(withHome(home), '.cache')
  return join(base, 'cryptorg')
}

/**
 * The home directory, for the defaults that live under it. A process without one (no HOME and
 * no passwd entry: the empty string) would otherwise put them under the working directory.
 */
export function withHome(home: string): string {
  if (home === '') {
    throw new CryptorgError(
      'ERR_USAGE',
      'there is no home directory for the default folders: set HOME, or name the folders ' +
        '(--db or CRYPTORG_DB, CRYPTORG_CONFIG_DIR, XDG_DATA_HOME and XDG_CONFIG_HOME)',
    )
  }
  return home
}

/** Creates a folder (and its parents) that only its owner may enter, naming the errno on failure. */
export function makePrivateDirectory(directory: string): void {
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 })
  } catch (error) {
    throw new CryptorgError(
      'ERR_STORAGE',
      `could not create ${directory}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      { cause: error },
    )
  }
}
