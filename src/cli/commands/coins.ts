import type { Command } from 'commander'

import type { CliContext } from '../context.js'
import type { ActionFactory } from '../main.js'

export function registerCoinCommands(program: Command, action: ActionFactory): void {
  const coins = program
    .command('coins')
    .alias('coin')
    .description('choose which coins the daemon fetches from CoinGecko')

  coins
    .command('list')
    .alias('ls')
    .description('list tracked coins')
    .action(action((ctx) => coinsListRun(ctx)))

  coins
    .command('track')
    .description('track a coin, or change the coin id or currency of a tracked symbol')
    .argument('<symbol>', 'symbol to store prices under, such as SOL')
    .requiredOption(
      '--id <coingecko-id>',
      'CoinGecko coin id, such as solana (see its /coins/list)',
    )
    .option('--vs <currency>', 'quote currency', 'usd')
    .action(
      action((ctx, symbol: string, flags: { id: string; vs: string }) =>
        coinsTrackRun(ctx, { symbol, coinId: flags.id, vsCurrency: flags.vs }),
      ),
    )

  coins
    .command('untrack')
    .description('stop tracking a symbol (its stored prices stay)')
    .argument('<symbol>', 'tracked symbol')
    .action(action((ctx, symbol: string) => coinsUntrackRun(ctx, { symbol })))
}

export async function coinsListRun(ctx: CliContext): Promise<void> {
  const c = await ctx.workspace()
  const coins = await c.coins.list()
  if (ctx.output.json) return ctx.output.printJson(coins)
  if (coins.length === 0) {
    ctx.output.note('No coins tracked; track one with: cryptorg coins track BTC --id bitcoin')
    return
  }
  ctx.output.printTable(
    ['SYMBOL', 'COINGECKO ID', 'CURRENCY'],
    coins.map((coin) => [coin.symbol, coin.coin_id, coin.vs_currency]),
  )
}

export async function coinsTrackRun(
  ctx: CliContext,
  opts: { symbol: string; coinId: string; vsCurrency: string },
): Promise<void> {
  const c = await ctx.workspace()
  const coin = await c.coins.track(opts)
  if (ctx.output.json) return ctx.output.printJson(coin)
  ctx.output.printLine(`Tracking ${coin.symbol} as ${coin.coin_id} in ${coin.vs_currency}`)
}

export async function coinsUntrackRun(ctx: CliContext, opts: { symbol: string }): Promise<void> {
  const c = await ctx.workspace()
  const coin = await c.coins.untrack(opts.symbol)
  if (ctx.output.json) return ctx.output.printJson(coin)
  ctx.output.printLine(`Stopped tracking ${coin.symbol}; its stored prices are kept`)
}
