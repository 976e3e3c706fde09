/**
 * The audit trail: who changed organizations, memberships and users, and when. Events are
 * written in the same transaction as the change they describe and outlive its subject.
 *
 * @module
 */
import type { Kysely } from 'kysely'

import { encodeTimestamp } from '../db/dialect.js'
import type { Database } from '../db/schema.js'
import { type Access, type Actor, findVisibleOrg, requireRole, resolveAccess } from './actor.js'
import type { CoreContext } from './context.js'
import { formatTimestamp, toMoment } from './time.js'
import { parseBoundedInteger } from './validate.js'

export type AuditAction =
  | 'org.create'
  | 'org.rename'
  | 'org.delete'
  | 'member.add'
  | 'member.remove'
  | 'member.role'
  | 'user.create'
  | 'user.password'
  | 'user.deactivate'
  | 'user.activate'
  | 'user.delete'

/** One event as the library returns it and the CLI prints it. */
export interface AuditEvent {
  id: number
  /** ISO-8601 UTC. */
  at: string
  /** Username of whoever acted, or `system`. */
  actor: string
  action: AuditAction
  org_id: string | null
  org_name: string | null
  /** The user the event is about (for member and user events). */
  user: string | null
  details: Record<string, unknown> | null
}

export interface AuditEventInput {
  action: AuditAction
  org?: { id: string; name: string }
  user?: string
  details?: Record<string, unknown>
}

/** Writes one event; call inside the transaction that makes the change. */
export async function recordAudit(
  db: Kysely<Database>,
  access: Access,
  at: Date,
  event: AuditEventInput,
): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      at: encodeTimestamp(at),
      actor_id: access.userId,
      actor_name: access.name,
      action: event.action,
      org_id: event.org?.id ?? null,
      org_name: event.org?.name ?? null,
      subject_user: event.user ?? null,
      details: event.details ? JSON.stringify(event.details) : null,
    })
    .execute()
}

export interface AuditListOptions {
  /** Only this organization's events (id or name). */
  org?: string
  /** Earliest moment, inclusive. */
  since?: Date | string
  /** @default 100, at most 10,000 (text such as a CLI flag is accepted too) */
  limit?: number | string
}

export interface AuditService {
  /**
   * Events, newest first. Admins see every event; other users see the events of the
   * organizations they own now.
   */
  list(options?: AuditListOptions): Promise<AuditEvent[]>
}

export function createAuditService(context: CoreContext, actor: Actor): AuditService {
  const { db } = context
  return {
    async list(options = {}) {
      const access = await resolveAccess(db, actor)
      const limit = parseBoundedInteger(options.limit ?? 100, 'limit', 1, 10_000)
      let query = db.selectFrom('audit_events').selectAll()
      if (options.org !== undefined) {
        const org = await findVisibleOrg(db, access, options.org)
        requireRole(access, org, 'owner', 'reading the audit trail of')
        query = query.where('org_id', '=', org.row.id)
      } else if (!access.unrestricted) {
        query = query.where('org_id', 'in', (eb) =>
          eb
            .selectFrom('memberships')
            .select('org_id')
            .where('user_id', '=', access.userId as string)
            .where('role', '=', 'owner'),
        )
      }
      if (options.since !== undefined) {
        query = query.where('at', '>=', encodeTimestamp(toMoment(options.since, 'since')))
      }
      const rows = await query.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute()
      return rows.map((row) => ({
        id: row.id,
        at: formatTimestamp(row.at),
        actor: row.actor_name,
        action: row.action as AuditAction,
        org_id: row.org_id,
        org_name: row.org_name,
        user: row.subject_user,
        details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
      }))
    },
  }
}
