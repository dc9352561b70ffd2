/**
 * The pool's store on a Durable Object's SQLite storage. A lease lives on its acquired slot's
 * row; counts live on the pool's single row, kept by triggers, so no operation scans.
 * Every method runs inside `transactionSync`, which makes it atomic.
 */
import { Effect, Option, Ref } from "effect"
import type { LeaseTerms, SlotCounts, SlotState } from "./policy.js"
import { CLIENT_CLOCK_SLACK_MS } from "./policy.js"
import type { HolderStatements, NewSlot, PoolRecordService, PoolStoreService } from "./PoolStore.js"
import { recyclingStatements } from "./SqliteRecycling.js"
import type { LeaseRow, Sql, SlotRow, SqlStorageLike } from "./SqliteRows.js"
import { LEASE, SLOT, slidingOf, sqlOf, toLease, toSlot } from "./SqliteRows.js"
import { states } from "./SqliteSchema.js"
import type { MetricsRow, SlotViewRow, StartFailureCause } from "./SqliteMetrics.js"
import { METRICS, PAGE, startFailureColumn, toMetrics, toSlotView } from "./SqliteMetrics.js"

export { migrate, schema } from "./SqliteSchema.js"
export { SLOT, sqlOf, type SqlStorageLike, toLease, toSlot } from "./SqliteRows.js"
export type { LeaseRow, Sql, SlotRow } from "./SqliteRows.js"

/**
 * What the pool remembers about itself: its row of `wp_pool`. The shut-down flag is read on every
 * assignment, so it is remembered after its first read: this Durable Object is its only writer.
 */
export const makeRecord = (storage: SqlStorageLike, now: () => number = Date.now): PoolRecordService => {
  const { atomic, one, run } = sqlOf(storage, now)
  const shutDown = Ref.unsafeMake(Option.none<boolean>())
  const readShutDown = atomic(
    "read shut-down flag",
    () => one<{ shut_down: number }>(`SELECT shut_down FROM wp_pool`)?.shut_down === 1
  )
  const currentShutDown = Effect.flatMap(Ref.get(shutDown), Option.match({
    onSome: Effect.succeed,
    onNone: () => Effect.tap(readShutDown, (value) => Ref.set(shutDown, Option.some(value)))
  }))
  return {
    config: atomic("read config", () => one<{ config: string | null }>(`SELECT config FROM wp_pool`)?.config ?? undefined),
    saveConfig: (json) => atomic("save config", () => void run(`UPDATE wp_pool SET config = ?`, json)),
    shutDown: currentShutDown,
    setShutDown: (value) =>
      Effect.flatMap(currentShutDown, (held) =>
        held === value ? Effect.void : atomic("set shut-down flag", () => void run(`UPDATE wp_pool SET shut_down = ?`, value ? 1 : 0)).pipe(
          Effect.zipRight(Ref.set(shutDown, Option.some(value)))
        )),
    startFailures: atomic(
      "read start failures",
      () => one<{ start_failures: number }>(`SELECT start_failures FROM wp_pool`)?.start_failures ?? 0
    ),
    recordStartFailure: (cause: StartFailureCause) => {
      const column = startFailureColumn[cause]
      return atomic(
        "record start failure",
        () => void run(`UPDATE wp_pool SET start_failures = start_failures + 1, ${column} = ${column} + 1`)
      )
    },
    recordRefusal: atomic("record refusal", () => void run(`UPDATE wp_pool SET sessions_refused = sessions_refused + 1`)),
    metrics: atomic("read metrics", () => {
      const row = one<MetricsRow & { warm: number; acquired: number }>(`SELECT warm, acquired, ${METRICS} FROM wp_pool`)!
      return toMetrics(row, row, now())
    })
  }
}


export const readLease = ({ one }: Sql, sessionId: string): LeaseRow | undefined =>
  one<LeaseRow>(`SELECT ${LEASE} FROM wp_slots WHERE session_id = ? AND state = 'acquired'`, sessionId)

/** A lease's deadline may fall before the slot's next check: the check moves up to it (no write otherwise). */
const checkNoLaterThan = ({ run }: Sql, container: string, deadline: number) =>
  run(`UPDATE wp_slots SET check_due_at = ? WHERE container = ? AND check_due_at > ?`, deadline, container, deadline)

const stopSlot = ({ now, run }: Sql, container: string) =>
  run(
    `UPDATE wp_slots SET state = 'stopping', session_id = NULL, check_due_at = NULL, since = ? WHERE container = ?`,
    now(),
    container
  )

/** Leases: lookup, renewal, assignment of a warm slot, and their ends. */
const leaseStatements = (q: Sql) => ({
  lease: (sessionId: string) =>
    q.atomic("read lease", () => {
      const row = readLease(q, sessionId)
      return row === undefined ? undefined : toLease(row)
    }),
  renewLease: (sessionId: string, container: string, terms: LeaseTerms) =>
    q.atomic("renew lease", () => {
      // Callers may slide a lease by different acquireTimeouts: the deadline never drops below the end
      // of a cache grant already made (`cached_until` is that end plus the clock slack, read before this
      // update), nor below a holder's deadline.
      const renewed = q.run(
        `UPDATE wp_slots SET expires_at = max(?, cached_until - ${CLIENT_CLOCK_SLACK_MS},
           (SELECT coalesce(max(expires_at), 0) FROM wp_holders WHERE container = ?)),
         cached_until = max(cached_until, ?), sliding = max(sliding, ?)
         WHERE session_id = ? AND state = 'acquired' AND container = ?`,
        terms.expiresAt,
        container,
        terms.cachedUntil,
        slidingOf(terms),
        sessionId,
        container
      ) > 0
      if (renewed) checkNoLaterThan(q, container, terms.expiresAt)
      return renewed
    }),
  assignWarm: (sessionId: string, terms: LeaseTerms, binding?: string, revision?: string) =>
    q.atomic("assign warm container", () => {
      if (readLease(q, sessionId) !== undefined) return undefined
      // Only the current revision's containers (`revision IS ?` matches NULL to NULL).
      const row = binding === undefined
        ? q.one<{ container: string }>(
          `SELECT container FROM wp_slots WHERE state = 'warm' AND state <> 'acquired' AND revision IS ? LIMIT 1`,
          revision ?? null
        )
        : q.one<{ container: string }>(
          `SELECT container FROM wp_slots WHERE state = 'warm' AND state <> 'acquired' AND (binding = ? OR binding IS NULL)
           AND revision IS ? LIMIT 1`,
          binding,
          revision ?? null
        )
      if (row === undefined) return undefined
      q.run(
        `UPDATE wp_slots SET state = 'acquired', session_id = ?, expires_at = ?, cached_until = ?, sliding = ?, fence = fence + 1,
         since = ? WHERE container = ?`,
        sessionId,
        terms.expiresAt,
        terms.cachedUntil,
        slidingOf(terms),
        q.now(),
        row.container
      )
      checkNoLaterThan(q, row.container, terms.expiresAt)
      return row.container
    }),
  bind: (container: string, terms: LeaseTerms, checkDueAt: number) =>
    q.atomic("bind slot to its session", () => {
      const slot = q.one<SlotRow>(`SELECT ${SLOT} FROM wp_slots WHERE container = ?`, container)
      if (slot?.state !== "starting" || slot.session_id === null || readLease(q, slot.session_id) !== undefined) {
        return false
      }
      q.run(
        `UPDATE wp_slots SET state = 'acquired', expires_at = ?, cached_until = ?, sliding = ?, check_due_at = ?, fence = fence + 1,
         since = ? WHERE container = ?`,
        terms.expiresAt,
        terms.cachedUntil,
        slidingOf(terms),
        Math.min(checkDueAt, terms.expiresAt),
        q.now(),
        container
      )
      return true
    }),
  recycle: (container: string) =>
    q.atomic("end a lease for its container's return to the warm set", () => {
      const ended = q.run(
        `UPDATE wp_slots SET state = 'warming', session_id = NULL, expires_at = 0, cached_until = 0, sliding = 0,
         check_due_at = NULL, failed_checks = 0, fence = fence + 1, since = ? WHERE container = ? AND state = 'acquired'`,
        q.now(),
        container
      ) > 0
      return ended
        ? q.one<{ fence: number }>(`SELECT fence FROM wp_slots WHERE container = ?`, container)!.fence
        : undefined
    }),
  rejoinWarm: (container: string, epoch: number, checkDueAt: number) =>
    q.atomic("return slot to the warm set", () =>
      q.run(
        `UPDATE wp_slots SET state = 'warm', check_due_at = ?, since = ? WHERE container = ? AND state = 'warming' AND fence = ?`,
        checkDueAt,
        q.now(),
        container,
        epoch
      ) > 0),
  stopReturning: (container: string, epoch: number) =>
    q.atomic("stop a returning slot", () =>
      q.run(
        `UPDATE wp_slots SET state = 'stopping', check_due_at = NULL, since = ? WHERE container = ? AND state = 'warming' AND fence = ?`,
        q.now(),
        container,
        epoch
      ) > 0),
  expireLease: (container: string, now: number) =>
    q.atomic("expire lease", () => {
      const expired = q.one<{ container: string }>(
        `SELECT container FROM wp_slots WHERE container = ? AND state = 'acquired' AND expires_at <= ?`,
        container,
        now
      )
      if (expired !== undefined) stopSlot(q, container)
      return expired !== undefined
    })
})

/** Slots: counts, reservation, promotion, stopping, checks and lookups. */
const slotStatements = (q: Sql) => ({
  counts: q.atomic("read counts", () => {
    const row = q.one<SlotCounts & Record<string, number>>(`SELECT ${states.join(", ")} FROM wp_pool`)!
    return { warming: row.warming, starting: row.starting, warm: row.warm, acquired: row.acquired, stopping: row.stopping }
  }),
  reserve: (slots: ReadonlyArray<NewSlot>) =>
    q.atomic("reserve slots", () => {
      for (const slot of slots) {
        const at = q.now()
        q.run(
          `INSERT INTO wp_slots (container, state, session_id, binding, revision, since, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          slot.container,
          slot.state,
          slot.sessionId,
          slot.binding ?? null,
          slot.revision ?? null,
          at,
          at
        )
      }
    }),
  promote: (container: string, checkDueAt: number) =>
    q.atomic("promote slot", () =>
      q.run(
        `UPDATE wp_slots SET state = 'warm', session_id = NULL, check_due_at = ?, since = ?
         WHERE container = ? AND state IN ('warming', 'starting')`,
        checkDueAt,
        q.now(),
        container
      ) > 0),
  markStopping: (container: string) =>
    q.atomic("mark slot stopping", () => {
      const row = q.one<SlotRow>(`SELECT ${SLOT} FROM wp_slots WHERE container = ?`, container)
      if (row !== undefined) stopSlot(q, row.container)
      return row === undefined ? undefined : toSlot(row)
    }),
  markAllStopping: q.atomic("mark all slots stopping", () => {
    q.run(
      `UPDATE wp_slots SET state = 'stopping', session_id = NULL, check_due_at = NULL, since = ? WHERE state <> 'stopping'`,
      q.now()
    )
    return q.all<{ container: string }>(`SELECT container FROM wp_slots`).map((row) => row.container)
  }),
  remove: (container: string) =>
    q.atomic("remove slot", () => void q.run(`DELETE FROM wp_slots WHERE container = ?`, container)),
  dueForCheck: (now: number, limit: number) =>
    q.atomic("read due slots", () =>
      q.all<SlotRow>(
        `SELECT ${SLOT} FROM wp_slots INDEXED BY wp_slots_due
         WHERE check_due_at IS NOT NULL AND check_due_at <= ? ORDER BY check_due_at LIMIT ?`,
        now,
        limit
      ).map(toSlot)),
  scheduleCheck: (container: string, at: number) =>
    q.atomic("schedule health check", () =>
      void q.run(
        `UPDATE wp_slots SET check_due_at = CASE WHEN state = 'acquired' THEN min(?, expires_at) ELSE ? END, failed_checks = 0,
         checked_at = ?, check_ok = 1 WHERE container = ? AND check_due_at IS NOT NULL`,
        at,
        at,
        q.now(),
        container
      )),
  recordFailedCheck: (container: string, retryAt: number) =>
    q.atomic("record failed health check", () => {
      q.run(
        `UPDATE wp_slots SET failed_checks = failed_checks + 1, check_due_at = min(?, expires_at), checked_at = ?, check_ok = 0
         WHERE container = ? AND state = 'acquired'`,
        retryAt,
        q.now(),
        container
      )
      return q.one<{ failed_checks: number }>(
        `SELECT failed_checks FROM wp_slots WHERE container = ? AND state = 'acquired'`,
        container
      )?.failed_checks ?? 0
    }),
  inState: (state: SlotState, limit: number) =>
    q.atomic("read slots by state", () =>
      q.all<SlotRow>(`SELECT ${SLOT} FROM wp_slots WHERE state = ? AND state <> 'acquired' LIMIT ?`, state, limit)
        .map(toSlot)),
  slot: (container: string) =>
    q.atomic("read slot", () => {
      const row = q.one<SlotRow>(`SELECT ${SLOT} FROM wp_slots WHERE container = ?`, container)
      return row === undefined ? undefined : toSlot(row)
    }),
  page: (cursor: string | null, limit: number) =>
    q.atomic("read a page of slots", () => q.all<SlotViewRow>(PAGE, cursor ?? "", limit).map(toSlotView)),
  snapshot: q.atomic("read snapshot", () => ({
    slots: q.all<SlotRow>(`SELECT ${SLOT} FROM wp_slots`).map(toSlot),
    leases: q.all<LeaseRow>(`SELECT ${LEASE} FROM wp_slots WHERE state = 'acquired'`).map(toLease)
  }))
})

/** `now` stamps state changes, for the metrics' container-seconds and start times (the effect's clock). */
export const makeStore = (
  storage: SqlStorageLike,
  now?: () => number
): Omit<PoolStoreService, "exclusive" | keyof HolderStatements> => {
  const q = sqlOf(storage, now)
  return { ...leaseStatements(q), ...slotStatements(q), ...recyclingStatements(q) }
}
