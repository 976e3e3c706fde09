/**
 * CoinGecko settings from the environment, checked with messages that name the variable.
 *
 * @module
 */
import { type CoinGeckoOptions, baseUrlProblem } from '../coingecko/client.js'
import { parseDuration } from '../core/time.js'
import { CryptorgError } from '../errors.js'

/** Reads the CoinGecko settings from the environment, naming the variable at fault. */
export function coinGeckoOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): CoinGeckoOptions {
  const options: CoinGeckoOptions = {}
  const url = env['CRYPTORG_COINGECKO_URL']
  if (url !== undefined) {
    // Set but empty is a mistake worth stopping for: unset would silently mean the real host.
    const problem = url.trim() === '' ? 'is set but empty' : baseUrlProblem(url.trim())
    if (problem) throw new CryptorgError('ERR_USAGE', `CRYPTORG_COINGECKO_URL ${problem}`)
    options.baseUrl = url.trim()
  }
  const apiKey = env['COINGECKO_API_KEY']?.trim()
  if (apiKey) options.apiKey = apiKey
  const plan = env['COINGECKO_API_PLAN']?.trim().toLowerCase()
  if (plan) {
    if (plan !== 'demo' && plan !== 'pro') {
      throw new CryptorgError(
        'ERR_USAGE',
        `COINGECKO_API_PLAN must be demo or pro, got ${JSON.stringify(plan)}`,
      )
    }
    if (plan === 'pro' && !apiKey) {
      throw new CryptorgError(
        'ERR_USAGE',
        'COINGECKO_API_PLAN is pro but COINGECKO_API_KEY is not set',
      )
    }
    options.plan = plan
  }
  const timeout = env['CRYPTORG_COINGECKO_TIMEOUT']?.trim()
  if (timeout) {
    const timeoutMs = parseDuration(timeout, 'CRYPTORG_COINGECKO_TIMEOUT')
    if (timeoutMs < 100 || timeoutMs > 300_000) {
      throw new CryptorgError(
        'ERR_USAGE',
        `CRYPTORG_COINGECKO_TIMEOUT must be from 100ms to 5m, got ${JSON.stringify(timeout)}`,
      )
    }
    options.timeoutMs = timeoutMs
  }
  return options
}
