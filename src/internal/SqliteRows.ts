/**
 * The store's SQLite rows and how they read: the storage interface it needs, the columns it selects,
 * the row shapes and their conversions to `Slot` and `Lease`, and `sqlOf`, which runs statements atomically.
 */
import { Effect } from "effect"
import { reasonOf, StorageError } from "./errors.js"
import type { Lease, LeaseTerms, Slot, SlotState } from "./policy.js"

type SqlValue = ArrayBuffer | string | number | null

/** The part of `DurableObjectStorage` the store uses (also what the Node test shim provides). */
export interface SqlStorageLike {
  readonly sql: {
    exec<T extends Record<string, SqlValue>>(query: string, ...bindings: Array<SqlValue>): {
      toArray(): Array<T>
      readonly rowsWritten: number
    }
  }
  transactionSync<T>(body: () => T): T
}

export const SLOT = `container, state, session_id, expires_at, check_due_at, binding, fence, revision, created_at, since`
export const LEASE = `session_id, container, expires_at, cached_until, binding, sliding, fence, revision`

export interface SlotRow extends Record<string, SqlValue> {
  container: string
  state: string
  session_id: string | null
  expires_at: number
  check_due_at: number | null
  binding: string | null
  fence: number
  revision: string | null
  created_at: number
  since: number
}

export interface LeaseRow extends Record<string, SqlValue> {
  session_id: string
  container: string
  expires_at: number
  cached_until: number
  binding: string | null
  sliding: number
  fence: number
  revision: string | null
}

/** A row written before bindings were recorded has none: it belongs to the pool's current binding. */
export const bindingOf = (row: { binding: string | null }): { binding?: string } =>
  row.binding === null ? {} : { binding: row.binding }

export const toSlot = (row: SlotRow): Slot => ({
  container: row.container,
  state: row.state as SlotState,
  sessionId: row.session_id,
  expiresAt: row.state === "acquired" ? row.expires_at : null,
  checkDueAt: row.check_due_at,
  ...bindingOf(row),
  // Only a slot that was leased has an epoch above 0: a `warming` one is returning from its lease.
  ...(row.state === "warming" && row.fence > 0 ? { returningAt: row.fence } : {}),
  ...revisionOf(row),
  createdAt: row.created_at,
  // A warm slot's state began when it last became warm.
  ...(row.state === "warm" ? { idleSince: row.since } : {})
})

const revisionOf = (row: { revision: string | null }): { revision?: string } =>
  row.revision === null ? {} : { revision: row.revision }

export const toLease = (row: LeaseRow): Lease => ({
  sessionId: row.session_id,
  container: row.container,
  expiresAt: row.expires_at,
  cachedUntil: row.cached_until,
  ...bindingOf(row),
  sliding: row.sliding === 1,
  fence: row.fence,
  ...revisionOf(row)
})

/** 1 when the use marks the lease sliding (plain use, the default), 0 for a scoped hold's. */
export const slidingOf = (terms: LeaseTerms): number => terms.sliding === false ? 0 : 1

/** Runs statements atomically; a failing statement is a typed `StorageError`, never a defect. */
export const sqlOf = (storage: SqlStorageLike, now: () => number = Date.now) => {
  const sql = storage.sql
  const all = <T extends Record<string, SqlValue>>(query: string, ...bindings: Array<SqlValue>) =>
    sql.exec<T>(query, ...bindings).toArray()
  return {
    now,
    all,
    one: <T extends Record<string, SqlValue>>(query: string, ...bindings: Array<SqlValue>) =>
      all<T>(query, ...bindings)[0],
    run: (query: string, ...bindings: Array<SqlValue>) => sql.exec(query, ...bindings).rowsWritten,
    atomic: <A>(operation: string, body: () => A): Effect.Effect<A, StorageError> =>
      Effect.try({
        try: () => storage.transactionSync(body),
        catch: (cause) => new StorageError({ operation, reason: reasonOf(cause) })
      })
  }
}

export type Sql = ReturnType<typeof sqlOf>
