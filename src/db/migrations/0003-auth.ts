import { type Kysely, type Migration, sql } from 'kysely'

import type { ColumnTypes } from '../dialect.js'

/**
 * Users, their memberships in organizations, sign-in sessions, the audit trail and the
 * installation's settings (the token signing secret lives there).
 */
export function createAuthMigration(types: ColumnTypes): Migration {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('users')
        .addColumn('id', types.uuid, (col) => col.primaryKey())
        .addColumn('username', 'text', (col) => col.notNull())
        .addColumn('username_key', types.key, (col) => col.notNull().unique())
        .addColumn('password_hash', 'text', (col) => col.notNull())
        .addColumn('is_admin', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('is_active', 'integer', (col) => col.notNull().defaultTo(1))
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .addColumn('password_changed_at', types.timestamp, (col) => col.notNull())
        .execute()

      await db.schema
        .createTable('memberships')
        .addColumn('org_id', types.uuid, (col) =>
          col.notNull().references('organizations.id').onDelete('cascade'),
        )
        .addColumn('user_id', types.uuid, (col) =>
          col.notNull().references('users.id').onDelete('cascade'),
        )
        .addColumn('role', 'text', (col) =>
          col.notNull().check(sql`role in ('owner', 'member', 'viewer')`),
        )
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .addPrimaryKeyConstraint('memberships_pk', ['org_id', 'user_id'])
        .execute()
      // "Which organizations may this user see" runs on every list.
      await db.schema
        .createIndex('memberships_user')
        .on('memberships')
        .columns(['user_id', 'org_id'])
        .execute()

      // One row per sign-in. A refresh token names its session and the session's current
      // refresh id: rotating replaces that id, so an older refresh token no longer matches.
      await db.schema
        .createTable('auth_sessions')
        .addColumn('id', types.uuid, (col) => col.primaryKey())
        .addColumn('user_id', types.uuid, (col) =>
          col.notNull().references('users.id').onDelete('cascade'),
        )
        .addColumn('refresh_jti', 'text', (col) => col.notNull())
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .addColumn('refreshed_at', types.timestamp, (col) => col.notNull())
        .addColumn('expires_at', types.timestamp, (col) => col.notNull())
        .addColumn('revoked_at', types.timestamp)
        .addColumn('revoked_reason', 'text')
        .execute()
      await db.schema
        .createIndex('auth_sessions_user')
        .on('auth_sessions')
        .column('user_id')
        .execute()

      // No foreign keys: an event outlives the organization or user it is about.
      await db.schema
        .createTable('audit_events')
        .addColumn('id', types.serial, types.generatedKey)
        .addColumn('at', types.timestamp, (col) => col.notNull())
        .addColumn('actor_id', types.uuid)
        .addColumn('actor_name', 'text', (col) => col.notNull())
        .addColumn('action', 'text', (col) => col.notNull())
        .addColumn('org_id', types.uuid)
        .addColumn('org_name', 'text')
        .addColumn('subject_user', 'text')
        .addColumn('details', 'text')
        .execute()
      await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute()
      await db.schema
        .createIndex('audit_events_org_at')
        .on('audit_events')
        .columns(['org_id', 'at'])
        .execute()

      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (col) => col.primaryKey())
        .addColumn('value', 'text', (col) => col.notNull())
        .execute()
    },
  }
}
