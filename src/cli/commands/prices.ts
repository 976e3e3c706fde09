import type { Command } from 'commander'

import { quoteInput } from '../../core/money.js'
import { MAX_HISTORY_LIMIT, type Price, parsePruneAge } from '../../core/prices.js'
import { parseSince } from '../../core/time.js'
import { parseBoundedInteger } from '../../core/validate.js'
import { systemClock } from '../../deps.js'
import { CryptorgError, validationError } from '../../errors.js'
import type { CliContext } from '../context.js'
import type { ActionFactory } from '../main.js'
import { plural } from '../output.js'

interface AddFlags {
  org: string
  symbol: string
  price: string
  currency: string
}

interface PruneFlags {
  olderThan: string
  org?: string
  dryRun?: boolean
  yes?: boolean
}

interface HistoryFlags {
  org: string
  symbol?: string
  since?: string
  until?: string
  limit?: string
}

export function registerPriceCommands(program: Command, action: ActionFactory): void {
  const prices = program
    .command('prices')
    .alias('price')
    .description('add prices and read the latest prices and price history')

  prices
    .command('add')
    .description('record a price by hand, timestamped now')
    .requiredOption('--org <org>', 'organization id or name')
    .requiredOption('--symbol <symbol>', 'ticker, 1-10 letters or digits, such as BTC')
    .requiredOption(
      '--price <decimal>',
      'plain decimal, at most 10 digits on each side of the point',
    )
    .option('--currency <code>', 'quote currency', 'usd')
    .action(action((ctx, flags: AddFlags) => pricesAddRun(ctx, flags)))

  prices
    .command('latest')
    .description('show the newest price of each symbol of an organization')
    .requiredOption('--org <org>', 'organization id or name')
    .action(action((ctx, flags: { org: string }) => pricesLatestRun(ctx, flags)))

  prices
    .command('history')
    .description('show prices of an organization, newest first')
    .requiredOption('--org <org>', 'organization id or name')
    .option('--symbol <symbol>', 'only this symbol')
    .option('--since <when>', 'from this time: a duration back from now (24h, 7d) or ISO-8601')
    .option('--until <when>', 'up to this time: a duration back from now or ISO-8601')
    .option('--limit <n>', 'at most this many rows (1-10000)', '100')
    .action(action((ctx, flags: HistoryFlags) => pricesHistoryRun(ctx, flags)))

  prices
    .command('prune')
    .description('delete prices older than a given age, in small batches')
    .requiredOption('--older-than <duration>', 'age of the prices to delete, at least 1d (90d)')
    .option('--org <org>', 'only this organization (default: every organization)')
    .option('--dry-run', 'count what would be deleted and delete nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .action(action((ctx, flags: PruneFlags) => pricesPruneRun(ctx, flags)))
}

export async function pricesAddRun(ctx: CliContext, opts: AddFlags): Promise<void> {
  const c = await ctx.workspace()
  const price = await c.prices.add({
    org: opts.org,
    symbol: opts.symbol,
    price: opts.price,
    currency: opts.currency,
  })
  if (ctx.output.json) return ctx.output.printJson(price)
  const org = await c.orgs.get(price.org_id)
  ctx.output.printLine(
    `Added ${price.symbol} ${price.price} ${price.currency} to ${JSON.stringify(org.name)} ` +
      `(id ${price.id})`,
  )
}

export async function pricesLatestRun(ctx: CliContext, opts: { org: string }): Promise<void> {
  const c = await ctx.workspace()
  const latest = await c.prices.latest(opts.org)
  if (ctx.output.json) return ctx.output.printJson(latest)
  if (latest.length === 0) {
    ctx.output.note(`No prices for ${JSON.stringify(opts.org)} yet; run: cryptorg daemon --once`)
    return
  }
  printPrices(ctx, latest)
}

export async function pricesHistoryRun(ctx: CliContext, opts: HistoryFlags): Promise<void> {
  const now = (ctx.io.clock ?? systemClock).now()
  const filters = {
    ...(opts.symbol !== undefined && { symbol: opts.symbol }),
    ...(opts.since !== undefined && { since: parseSince(opts.since, now, 'since') }),
    ...(opts.until !== undefined && { until: parseSince(opts.until, now, 'until') }),
    ...(opts.limit !== undefined && {
      limit: parseBoundedInteger(opts.limit, 'limit', 1, MAX_HISTORY_LIMIT),
    }),
  }
  const c = await ctx.workspace()
  const history = await c.prices.history(opts.org, filters)
  if (ctx.output.json) return ctx.output.printJson(history)
  if (history.length === 0) {
    ctx.output.note('No prices match')
    return
  }
  printPrices(ctx, history)
}

export async function pricesPruneRun(ctx: CliContext, opts: PruneFlags): Promise<void> {
  const olderThan = pruneCutoff(ctx, opts.olderThan)
  const dryRun = Boolean(opts.dryRun)
  const ask = !dryRun && !opts.yes
  if (ask && !ctx.canPrompt()) {
    throw new CryptorgError(
      'ERR_USAGE',
      'refusing to delete prices without --yes when not on a terminal (--dry-run counts them)',
    )
  }

  const c = await ctx.workspace()
  // Resolving the organization first reports a wrong name before any question is asked.
  const scope =
    opts.org === undefined ? '' : ` of ${JSON.stringify((await c.orgs.get(opts.org)).name)}`
  const target = { olderThan, ...(opts.org !== undefined && { org: opts.org }) }
  if (ask) {
    const { cutoff, deleted } = await c.prices.prune({ ...target, dryRun: true })
    const question = `Delete ${plural(deleted, 'price')}${scope} older than ${cutoff}?`
    if (!(await ctx.io.confirm(question))) return ctx.output.note('Nothing deleted')
  }

  const result = await c.prices.prune({ ...target, dryRun })
  if (ctx.output.json) return ctx.output.printJson(result)
  const verb = dryRun ? 'Would delete' : 'Deleted'
  ctx.output.printLine(
    `${verb} ${plural(result.deleted, 'price')}${scope} older than ${result.cutoff}`,
  )
}

/** The moment `--older-than` points at, counted back from the clock. */
function pruneCutoff(ctx: CliContext, olderThan: string): Date {
  const ageMs = parsePruneAge(olderThan, 'older-than')
  const cutoff = new Date((ctx.io.clock ?? systemClock).now().getTime() - ageMs)
  // Ages beyond the range of Date (about 273,000 years) give an invalid date.
  if (Number.isNaN(cutoff.getTime())) {
    throw validationError('older-than', `older-than is too long, got ${quoteInput(olderThan)}`)
  }
  return cutoff
}

function printPrices(ctx: CliContext, prices: readonly Price[]): void {
  ctx.output.printTable(
    ['SYMBOL', 'PRICE', 'CURRENCY', 'TIMESTAMP', 'SOURCE'],
    prices.map((p) => [p.symbol, p.price, p.currency, p.timestamp, p.source]),
  )
}
