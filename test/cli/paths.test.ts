import { describe, expect, it } from 'vitest'

import {
  DATABASE_FILE_NAME,
  defaultConfigDirectory,
  defaultDataDirectory,
} from '../../src/cli/paths.js'

/** Compares paths whatever the separator of the platform running the tests. */
const slashes = (path: string) => path.replaceAll('\\', '/')

describe('defaultDataDirectory', () => {
  it.each<[string, NodeJS.Platform, Record<string, string | undefined>, string, string]>([
    ['linux with XDG_DATA_HOME', 'linux', { XDG_DATA_HOME: '/xdg' }, '/home/u', '/xdg/cryptorg'],
    ['linux without XDG_DATA_HOME', 'linux', {}, '/home/u', '/home/u/.local/share/cryptorg'],
    [
      'linux with an empty XDG_DATA_HOME',
      'linux',
      { XDG_DATA_HOME: '' },
      '/home/u',
      '/home/u/.local/share/cryptorg',
    ],
    [
      'linux with a relative XDG_DATA_HOME',
      'linux',
      { XDG_DATA_HOME: 'relative/data' },
      '/home/u',
      '/home/u/.local/share/cryptorg',
    ],
    [
      'linux with a dot-relative XDG_DATA_HOME',
      'linux',
      { XDG_DATA_HOME: './data' },
      '/home/u',
      '/home/u/.local/share/cryptorg',
    ],
    [
      'freebsd with XDG_DATA_HOME',
      'freebsd',
      { XDG_DATA_HOME: '/xdg' },
      '/home/u',
      '/xdg/cryptorg',
    ],
    ['darwin', 'darwin', {}, '/Users/u', '/Users/u/Library/Application Support/cryptorg'],
    [
      'darwin, ignoring XDG_DATA_HOME',
      'darwin',
      { XDG_DATA_HOME: '/xdg' },
      '/Users/u',
      '/Users/u/Library/Application Support/cryptorg',
    ],
    [
      'win32 with LOCALAPPDATA',
      'win32',
      { LOCALAPPDATA: 'D:\\Local' },
      'C:\\Users\\u',
      'D:/Local/cryptorg',
    ],
    [
      'win32 without LOCALAPPDATA',
      'win32',
      {},
      'C:\\Users\\u',
      'C:/Users/u/AppData/Local/cryptorg',
    ],
    [
      'win32 with an empty LOCALAPPDATA',
      'win32',
      { LOCALAPPDATA: '' },
      'C:\\Users\\u',
      'C:/Users/u/AppData/Local/cryptorg',
    ],
  ])('returns the right directory on %s', (_label, platform, env, home, expected) => {
    expect(slashes(defaultDataDirectory(env, home, platform))).toBe(expected)
  })

  it('names the database file cryptorg.db', () => {
    expect(DATABASE_FILE_NAME).toBe('cryptorg.db')
  })
})

describe('without a home directory', () => {
  it.each<NodeJS.Platform>(['linux', 'darwin', 'win32'])(
    'refuses the defaults under it on %s rather than using the working directory',
    (platform) => {
      for (const resolve of [defaultDataDirectory, defaultConfigDirectory]) {
        expect(() => resolve({}, '', platform)).toThrow(
          expect.objectContaining({ code: 'ERR_USAGE', message: expect.stringMatching(/HOME/) }),
        )
      }
    },
  )

  it('still gives the folders that were named', () => {
    expect(defaultDataDirectory({ XDG_DATA_HOME: '/xdg' }, '', 'linux')).toBe('/xdg/cryptorg')
    expect(defaultConfigDirectory({ CRYPTORG_CONFIG_DIR: '/cfg' }, '', 'linux')).toBe('/cfg')
    expect(defaultConfigDirectory({ XDG_CONFIG_HOME: '/xc' }, '', 'linux')).toBe('/xc/cryptorg')
  })
})
