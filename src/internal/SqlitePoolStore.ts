/**
 * The pool's store on a Durable Object's SQLite storage. A lease lives on its acquired slot's
 * row; counts live on the pool's single row, kept by triggers, so no operation scans.
 * Every method runs inside `transactionSync`, which makes it atomic.
 */
import { Effect, Option, Ref } from "effect"
import { reasonOf, StorageError } from "./errors.js"
import type { Lease, LeaseTerms, Slot, SlotCounts, SlotState } from "./policy.js"
import type { PoolRecordService, PoolStoreService } from "./PoolStore.js"

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

const states = ["warming", "starting", "warm", "acquired", "stopping"] as const

// Counts move with the rows; `(x = 'warm')` is 1 or 0, so each trigger writes the pool row once.
const countDelta = (row: "NEW" | "OLD", sign: "+" | "-") =>
  states.map((state) => `${state} = ${state} ${sign} (${row}.state = '${state}')`).join(", ")

export const schema = [
  `CREATE TABLE IF NOT EXISTS wp_pool (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT,
    shut_down INTEGER NOT NULL DEFAULT 0,
    start_failures INTEGER NOT NULL DEFAULT 0,
    ${states.map((state) => `${state} INTEGER NOT NULL DEFAULT 0`).join(",\n    ")}
  )`,
  `INSERT OR IGNORE INTO wp_pool (id) VALUES (1)`,
  `CREATE TABLE IF NOT EXISTS wp_slots (
    container TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN (${states.map((s) => `'${s}'`).join(", ")})),
    session_id TEXT,
    expires_at INTEGER NOT NULL DEFAULT 0,
    cached_until INTEGER NOT NULL DEFAULT 0,
    check_due_at INTEGER,
    object_id TEXT NOT NULL
  ) WITHOUT ROWID`,
  // Each index is partial, so a transition writes only the index entries it really changes.
  `CREATE UNIQUE INDEX IF NOT EXISTS wp_leases ON wp_slots (session_id) WHERE state = 'acquired'`,
  `CREATE INDEX IF NOT EXISTS wp_leases_by_expiry ON wp_slots (expires_at) WHERE state = 'acquired'`,
  // Queries name `state <> 'acquired'` themselves: SQLite uses a partial index only for a term it sees verbatim.
  `CREATE INDEX IF NOT EXISTS wp_slots_unleased ON wp_slots (state) WHERE state <> 'acquired'`,
  `CREATE INDEX IF NOT EXISTS wp_slots_checkable ON wp_slots (check_due_at) WHERE check_due_at IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS wp_slots_by_object_id ON wp_slots (object_id)`,
  `CREATE TRIGGER IF NOT EXISTS wp_slots_inserted AFTER INSERT ON wp_slots BEGIN
    UPDATE wp_pool SET ${countDelta("NEW", "+")} WHERE id = 1;
  END`,
  `CREATE TRIGGER IF NOT EXISTS wp_slots_deleted AFTER DELETE ON wp_slots BEGIN
    UPDATE wp_pool SET ${countDelta("OLD", "-")} WHERE id = 1;
  END`,
  `CREATE TRIGGER IF NOT EXISTS wp_slots_moved AFTER UPDATE OF state ON wp_slots WHEN OLD.state <> NEW.state BEGIN
    UPDATE wp_pool SET ${
    states.map((s) => `${s} = ${s} + (NEW.state = '${s}') - (OLD.state = '${s}')`).join(", ")
  } WHERE id = 1;
  END`
]

const SLOT = `container, state, session_id, check_due_at`
const LEASE = `session_id, container, expires_at, cached_until`

interface SlotRow extends Record<string, SqlValue> {
  container: string
  state: string
  session_id: string | null
  check_due_at: number | null
}

interface LeaseRow extends Record<string, SqlValue> {
  session_id: string
  container: string
  expires_at: number
  cached_until: number
}

const toSlot = (row: SlotRow): Slot => ({
  container: row.container,
  state: row.state as SlotState,
  sessionId: row.session_id,
  checkDueAt: row.check_due_at
})

const toLease = (row: LeaseRow): Lease => ({
  sessionId: row.session_id,
  container: row.container,
  expiresAt: row.expires_at,
  cachedUntil: row.cached_until
})

/** Runs statements atomically; a failing statement is a typed `StorageError`, never a defect. */
const sqlOf = (storage: SqlStorageLike) => {
  const sql = storage.sql
  const all = <T extends Record<string, SqlValue>>(query: string, ...bindings: Array<SqlValue>) =>
    sql.exec<T>(query, ...bindings).toArray()
  return {
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

/** Creates the tables if they do not exist yet. */
export const migrate = (storage: SqlStorageLike): void =>
  storage.transactionSync(() => {
    for (const statement of schema) storage.sql.exec(statement)
  })

/**
 * What the pool remembers about itself: its row of `wp_pool`. The shut-down flag is read on every
 * assignment, so it is remembered after its first read: this Durable Object is its only writer.
 */
export const makeRecord = (storage: SqlStorageLike): PoolRecordService => {
  const { atomic, one, run } = sqlOf(storage)
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
    recordStartFailure: atomic(
      "record start failure",
      () => void run(`UPDATE wp_pool SET start_failures = start_failures + 1`)
    )
  }
}

export const makeStore = (storage: SqlStorageLike): Omit<PoolStoreService, "exclusive"> => {
  const { all, atomic, one, run } = sqlOf(storage)
  const readLease = (sessionId: string) =>
    one<LeaseRow>(`SELECT ${LEASE} FROM wp_slots WHERE session_id = ? AND state = 'acquired'`, sessionId)
  const readSlot = (reference: string) =>
    one<SlotRow>(`SELECT ${SLOT} FROM wp_slots WHERE container = ?`, reference) ??
      one<SlotRow>(`SELECT ${SLOT} FROM wp_slots WHERE object_id = ?`, reference)
  const stopSlot = (container: string) =>
    run(
      `UPDATE wp_slots SET state = 'stopping', session_id = NULL, check_due_at = NULL WHERE container = ?`,
      container
    )
  const lease = (terms: LeaseTerms) => [terms.expiresAt, terms.cachedUntil] as const

  return {
    counts: atomic("read counts", () => {
      const row = one<SlotCounts & Record<string, number>>(`SELECT ${states.join(", ")} FROM wp_pool`)
      return { warming: row!.warming, starting: row!.starting, warm: row!.warm, acquired: row!.acquired, stopping: row!.stopping }
    }),
    lease: (sessionId) =>
      atomic("read lease", () => {
        const row = readLease(sessionId)
        return row === undefined ? undefined : toLease(row)
      }),
    renewLease: (sessionId, container, terms) =>
      atomic("renew lease", () =>
        run(
          `UPDATE wp_slots SET expires_at = ?, cached_until = max(cached_until, ?)
           WHERE session_id = ? AND state = 'acquired' AND container = ?`,
          ...lease(terms),
          sessionId,
          container
        ) > 0),
    assignWarm: (sessionId, terms) =>
      atomic("assign warm container", () => {
        if (readLease(sessionId) !== undefined) return undefined
        const row = one<{ container: string }>(`SELECT container FROM wp_slots WHERE state = 'warm' AND state <> 'acquired' LIMIT 1`)
        if (row === undefined) return undefined
        run(
          `UPDATE wp_slots SET state = 'acquired', session_id = ?, expires_at = ?, cached_until = ? WHERE container = ?`,
          sessionId,
          ...lease(terms),
          row.container
        )
        return row.container
      }),
    reserve: (slots) =>
      atomic("reserve slots", () => {
        for (const slot of slots) {
          run(
            `INSERT INTO wp_slots (container, state, session_id, object_id) VALUES (?, ?, ?, ?)`,
            slot.container,
            slot.state,
            slot.sessionId,
            slot.objectId
          )
        }
      }),
    promote: (container, checkDueAt) =>
      atomic("promote slot", () =>
        run(
          `UPDATE wp_slots SET state = 'warm', session_id = NULL, check_due_at = ?
           WHERE container = ? AND state IN ('warming', 'starting')`,
          checkDueAt,
          container
        ) > 0),
    bind: (container, terms, checkDueAt) =>
      atomic("bind slot to its session", () => {
        const slot = readSlot(container)
        if (slot?.state !== "starting" || slot.session_id === null || readLease(slot.session_id) !== undefined) {
          return false
        }
        run(
          `UPDATE wp_slots SET state = 'acquired', expires_at = ?, cached_until = ?, check_due_at = ? WHERE container = ?`,
          ...lease(terms),
          checkDueAt,
          container
        )
        return true
      }),
    returnToWarm: (container, checkDueAt) =>
      atomic("return slot to the warm set", () =>
        run(
          `UPDATE wp_slots SET state = 'warm', session_id = NULL, expires_at = 0, cached_until = 0, check_due_at = ?
           WHERE container = ? AND state = 'acquired'`,
          checkDueAt,
          container
        ) > 0),
    markStopping: (container) =>
      atomic("mark slot stopping", () => {
        const row = readSlot(container)
        if (row === undefined) return undefined
        stopSlot(row.container)
        return toSlot(row)
      }),
    expireLeases: (now, limit) =>
      atomic("expire leases", () => {
        const expired = all<{ container: string }>(
          `SELECT container FROM wp_slots INDEXED BY wp_leases_by_expiry
           WHERE state = 'acquired' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
          now,
          limit
        )
        for (const { container } of expired) stopSlot(container)
        return expired.map((row) => row.container)
      }),
    markAllStopping: atomic("mark all slots stopping", () => {
      run(`UPDATE wp_slots SET state = 'stopping', session_id = NULL, check_due_at = NULL WHERE state <> 'stopping'`)
      return all<{ container: string }>(`SELECT container FROM wp_slots`).map((row) => row.container)
    }),
    remove: (container) => atomic("remove slot", () => void run(`DELETE FROM wp_slots WHERE container = ?`, container)),
    dueForCheck: (now, limit) =>
      atomic("read due health checks", () =>
        all<SlotRow>(
          `SELECT ${SLOT} FROM wp_slots INDEXED BY wp_slots_checkable
           WHERE check_due_at IS NOT NULL AND check_due_at <= ? ORDER BY check_due_at LIMIT ?`,
          now,
          limit
        ).map(toSlot)),
    scheduleCheck: (container, at) =>
      atomic("schedule health check", () =>
        void run(`UPDATE wp_slots SET check_due_at = ? WHERE container = ? AND check_due_at IS NOT NULL`, at, container)),
    inState: (state, limit) =>
      atomic("read slots by state", () =>
        all<SlotRow>(`SELECT ${SLOT} FROM wp_slots WHERE state = ? AND state <> 'acquired' LIMIT ?`, state, limit).map(toSlot)),
    slot: (reference) =>
      atomic("read slot", () => {
        const row = readSlot(reference)
        return row === undefined ? undefined : toSlot(row)
      }),
    snapshot: atomic("read snapshot", () => ({
      slots: all<SlotRow>(`SELECT ${SLOT} FROM wp_slots`).map(toSlot),
      leases: all<LeaseRow>(`SELECT ${LEASE} FROM wp_slots WHERE state = 'acquired'`).map(toLease)
    }))
  }
}
