import type { Command } from 'commander'
import { sql } from 'kysely'

import { connect } from '../../db/connect.js'
import { sameLocation } from '../../db/location.js'
import { migrateToLatest, readMigratableStatus } from '../../db/migrate.js'
import { withStorageErrors } from '../../db/storage-errors.js'
import { CryptorgError } from '../../errors.js'
import type { CliContext } from '../context.js'
import type { ActionFactory } from '../main.js'
import { ProgressLine } from '../progress.js'

export function registerDbCommands(program: Command, action: ActionFactory): void {
  const db = program
    .command('db')
    .description('look after the database: schema migrations, moving to another database')

  db.command('status')
    .description('show the backend and which schema migrations are applied or pending')
    .action(action((ctx) => dbStatusRun(ctx)))

  db.command('migrate')
    .description('apply pending schema migrations (commands also do this when they open it)')
    .action(action((ctx) => dbMigrateRun(ctx)))

  db.command('copy')
    .description(
      'copy a whole installation to a new, empty database (SQLite <-> Postgres), ' +
        'with every id and timestamp; stop daemons and servers on the source first',
    )
    .option('--from <location>', 'source file or postgres:// URL (default: the --db database)')
    .requiredOption('--to <location>', 'destination file or postgres:// URL; must hold no data')
    .option('--batch-size <rows>', 'rows read and written at a time', '2000')
    .action(
      action((ctx, flags: { from?: string; to: string; batchSize: string }) =>
        dbCopyRun(ctx, flags),
      ),
    )
}

export async function dbStatusRun(ctx: CliContext): Promise<void> {
  const opened = connect(ctx.databaseLocation(), { ...ctx.connectOptions(), mustExist: true })
  try {
    // The same refusals as `db migrate`, rather than a list of migrations it would not apply.
    const status = await withStorageErrors(`could not read ${opened.description}`, () =>
      readMigratableStatus(opened.db, opened.dialect.name),
    )
    const result = {
      backend: opened.dialect.name,
      database: opened.description,
      migrations: status.migrations,
      pending: status.pending,
      unknown: status.unknown,
    }
    if (ctx.output.json) return ctx.output.printJson(result)
    ctx.output.printRecord([
      ['backend', result.backend],
      ['database', result.database],
    ])
    ctx.output.printTable(
      ['MIGRATION', 'APPLIED'],
      status.migrations.map((m) => [m.name, m.applied_at ?? 'pending']),
    )
    if (status.unknown.length > 0) {
      ctx.output.note(`Applied by a newer cryptorg: ${status.unknown.join(', ')}`)
    } else if (status.pending.length > 0) {
      ctx.output.note('Apply the pending migrations with: cryptorg db migrate')
    }
  } finally {
    await opened.db.destroy()
  }
}

export async function dbMigrateRun(ctx: CliContext): Promise<void> {
  const opened = connect(ctx.databaseLocation(), ctx.connectOptions())
  try {
    const applied = await withStorageErrors(`could not migrate ${opened.description}`, () =>
      migrateToLatest(opened.db, opened.dialect.name),
    )
    if (ctx.output.json) {
      return ctx.output.printJson({ database: opened.description, applied })
    }
    ctx.output.printLine(
      applied.length === 0
        ? `${opened.description} is up to date`
        : `Applied ${applied.join(', ')} to ${opened.description}`,
    )
  } finally {
    await opened.db.destroy()
  }
}

export async function dbCopyRun(
  ctx: CliContext,
  flags: { from?: string; to: string; batchSize: string },
): Promise<void> {
  // Loaded here: only this command copies.
  const { copyInstallation } = await import('../../db/copy.js')
  const batchSize = parseBatchSize(flags.batchSize)
  const from =
    flags.from === undefined ? ctx.databaseLocation() : ctx.resolveLocation(flags.from, '--from')
  const to = ctx.resolveLocation(flags.to, '--to')
  if (sameLocation(from, to)) {
    throw new CryptorgError('ERR_USAGE', '--from and --to name the same database')
  }

  // The source must exist (a typo must not create a file); it is reached before the
  // destination is touched, so a dead source leaves no empty destination file behind.
  const source = connect(from, { ...ctx.connectOptions(), mustExist: true })
  let destination: ReturnType<typeof connect> | undefined
  const progress = new ProgressLine(ctx.io.stderr)
  try {
    await withStorageErrors(`could not reach the source ${source.description}`, () =>
      sql`select 1`.execute(source.db),
    )
    destination = connect(to, ctx.connectOptions())
    const target = destination
    await withStorageErrors(`could not reach the destination ${target.description}`, () =>
      sql`select 1`.execute(target.db),
    )
    const result = await withStorageErrors('could not copy', () =>
      copyInstallation(source, target, {
        batchSize,
        onProgress: (p) => progress.update(p.table, p.copied, p.total),
      }),
    )
    progress.done()
    if (ctx.output.json) {
      return ctx.output.printJson({
        from: source.description,
        to: target.description,
        ...result,
      })
    }
    ctx.output.printTable(
      ['TABLE', 'SOURCE ROWS', 'COPIED ROWS'],
      result.tables.map((t) => [t.table, String(t.source), String(t.destination)]),
    )
    ctx.output.printLine(
      `Copied ${result.rows} rows from ${source.description} to ${target.description}; ` +
        'row counts match',
    )
  } catch (error) {
    progress.abandon()
    throw error
  } finally {
    await Promise.allSettled([source.db.destroy(), destination?.db.destroy()])
  }
}

function parseBatchSize(text: string): number {
  const value = /^\d{1,5}$/.test(text.trim()) ? Number(text.trim()) : NaN
  if (!(value >= 1 && value <= 3000)) {
    throw new CryptorgError(
      'ERR_USAGE',
      `--batch-size must be a whole number from 1 to 3000, got ${JSON.stringify(text)}`,
    )
  }
  return value
}
