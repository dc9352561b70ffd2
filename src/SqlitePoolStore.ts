/**
 * The pool store on a Durable Object's SQLite storage. One row per slot and one
 * per lease; counts are kept by triggers, so no operation scans the tables.
 * Every method runs inside `transactionSync`, which makes it atomic.
 */
import { Effect, Layer } from "effect"
import type { LeaseTerms, PoolStoreService } from "./PoolStore.js"
import { PoolStore } from "./PoolStore.js"
import type { Lease, Slot, SlotCounts, SlotState } from "./Slot.js"
import { emptyCounts } from "./Slot.js"

const schema = [
  `CREATE TABLE IF NOT EXISTS wp_slots (
    container TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('warming', 'starting', 'warm', 'acquired', 'stopping')),
    session_id TEXT,
    check_due_at INTEGER NOT NULL,
    object_id TEXT
  ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS wp_slots_by_state ON wp_slots (state, check_due_at)`,
  // Health checks walk this in due order and stop after a page. On (state, check_due_at) the
  // two states would be two ranges, merged by sorting every due row: O(N) when all are due.
  `CREATE INDEX IF NOT EXISTS wp_slots_checkable ON wp_slots (check_due_at) WHERE state IN ('warm', 'acquired')`,
  `CREATE TABLE IF NOT EXISTS wp_leases (
    session_id TEXT PRIMARY KEY,
    container TEXT NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    cached_until INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS wp_leases_by_expiry ON wp_leases (expires_at)`,
  `CREATE TABLE IF NOT EXISTS wp_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID`,
  `INSERT OR IGNORE INTO wp_counts (key, n) VALUES
    ('warming', 0), ('starting', 0), ('warm', 0), ('acquired', 0), ('stopping', 0), ('sessions', 0),
    ('startFailures', 0)`,
  `CREATE TABLE IF NOT EXISTS wp_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE TRIGGER IF NOT EXISTS wp_slots_inserted AFTER INSERT ON wp_slots BEGIN
    UPDATE wp_counts SET n = n + 1 WHERE key = NEW.state;
  END`,
  `CREATE TRIGGER IF NOT EXISTS wp_slots_deleted AFTER DELETE ON wp_slots BEGIN
    UPDATE wp_counts SET n = n - 1 WHERE key = OLD.state;
  END`,
  `CREATE TRIGGER IF NOT EXISTS wp_slots_moved AFTER UPDATE OF state ON wp_slots
    WHEN OLD.state <> NEW.state BEGIN
    UPDATE wp_counts SET n = n - 1 WHERE key = OLD.state;
    UPDATE wp_counts SET n = n + 1 WHERE key = NEW.state;
  END`,
  `CREATE TRIGGER IF NOT EXISTS wp_leases_inserted AFTER INSERT ON wp_leases BEGIN
    UPDATE wp_counts SET n = n + 1 WHERE key = 'sessions';
  END`,
  `CREATE TRIGGER IF NOT EXISTS wp_leases_deleted AFTER DELETE ON wp_leases BEGIN
    UPDATE wp_counts SET n = n - 1 WHERE key = 'sessions';
  END`
]

/** Columns added after a table's first version: tables created before them gain them at start-up. */
const addedColumns = [
  { table: "wp_leases", column: "cached_until", definition: "INTEGER NOT NULL DEFAULT 0" },
  { table: "wp_slots", column: "object_id", definition: "TEXT" }
] as const

/** Indexes on added columns: created once the columns exist. */
const laterIndexes = [
  `CREATE INDEX IF NOT EXISTS wp_slots_by_object_id ON wp_slots (object_id) WHERE object_id IS NOT NULL`
]

interface SlotRow extends Record<string, SqlStorageValue> {
  container: string
  state: string
  session_id: string | null
  check_due_at: number
}

interface LeaseRow extends Record<string, SqlStorageValue> {
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

/** Builds the store and creates its tables if they do not exist yet. */
export const makeSqliteStore = (storage: DurableObjectStorage): PoolStoreService => {
  const sql = storage.sql
  storage.transactionSync(() => {
    for (const statement of schema) sql.exec(statement)
    for (const { column, definition, table } of addedColumns) {
      const columns = sql.exec<{ name: string }>(`PRAGMA table_info(${table})`).toArray()
      if (!columns.some((c) => c.name === column)) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`)
    }
    for (const statement of laterIndexes) sql.exec(statement)
  })

  const atomic = <A>(body: () => A): Effect.Effect<A> => Effect.sync(() => storage.transactionSync(body))
  const one = <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: Array<SqlStorageValue>) =>
    sql.exec<T>(query, ...bindings).toArray()[0]
  const all = <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: Array<SqlStorageValue>) =>
    sql.exec<T>(query, ...bindings).toArray()

  const readCounts = (): SlotCounts => {
    const counts: Record<string, number> = { ...emptyCounts }
    for (const row of all<{ key: string; n: number }>(`SELECT key, n FROM wp_counts WHERE key <> 'startFailures'`)) {
      counts[row.key] = row.n
    }
    return counts as unknown as SlotCounts
  }
  const readLease = (sessionId: string) =>
    one<LeaseRow>(
      `SELECT session_id, container, expires_at, cached_until FROM wp_leases WHERE session_id = ?`,
      sessionId
    )
  const insertLease = (sessionId: string, container: string, terms: LeaseTerms) =>
    sql.exec(
      `INSERT INTO wp_leases (session_id, container, expires_at, cached_until) VALUES (?, ?, ?, ?)`,
      sessionId,
      container,
      terms.expiresAt,
      terms.cachedUntil
    )
  const readSlot = (container: string) =>
    one<SlotRow>(`SELECT container, state, session_id, check_due_at FROM wp_slots WHERE container = ?`, container)
  const stopSlot = (container: string) => {
    sql.exec(`DELETE FROM wp_leases WHERE container = ?`, container)
    sql.exec(`UPDATE wp_slots SET state = 'stopping', session_id = NULL WHERE container = ?`, container)
  }

  return {
    loadConfig: atomic(() => one<{ value: string }>(`SELECT value FROM wp_meta WHERE key = 'config'`)?.value),
    saveConfig: (key) =>
      atomic(() => void sql.exec(`INSERT OR REPLACE INTO wp_meta (key, value) VALUES ('config', ?)`, key)),
    dormant: atomic(() => one<{ value: string }>(`SELECT value FROM wp_meta WHERE key = 'dormant'`)?.value === "1"),
    setDormant: (dormant) =>
      atomic(() =>
        void sql.exec(`INSERT OR REPLACE INTO wp_meta (key, value) VALUES ('dormant', ?)`, dormant ? "1" : "0")
      ),
    counts: atomic(readCounts),
    startFailures: atomic(() => one<{ n: number }>(`SELECT n FROM wp_counts WHERE key = 'startFailures'`)?.n ?? 0),
    recordStartFailure: atomic(() => void sql.exec(`UPDATE wp_counts SET n = n + 1 WHERE key = 'startFailures'`)),
    lease: (sessionId) =>
      atomic(() => {
        const row = readLease(sessionId)
        return row === undefined ? undefined : toLease(row)
      }),
    renewLease: (sessionId, container, terms) =>
      atomic(() =>
        sql.exec(
          `UPDATE wp_leases SET expires_at = ?, cached_until = max(cached_until, ?)
           WHERE session_id = ? AND container = ?`,
          terms.expiresAt,
          terms.cachedUntil,
          sessionId,
          container
        ).rowsWritten > 0
      ),
    assignWarm: (sessionId, terms) =>
      atomic(() => {
        if (readLease(sessionId) !== undefined) return undefined
        const row = one<{ container: string }>(`SELECT container FROM wp_slots WHERE state = 'warm' LIMIT 1`)
        if (row === undefined) return undefined
        sql.exec(`UPDATE wp_slots SET state = 'acquired', session_id = ? WHERE container = ?`, sessionId, row.container)
        insertLease(sessionId, row.container, terms)
        return row.container
      }),
    reserve: (request) =>
      atomic(() => {
        const howMany = request.howMany(readCounts())
        const names: Array<string> = []
        for (let i = 0; i < howMany; i++) {
          const container = request.newName()
          sql.exec(
            `INSERT INTO wp_slots (container, state, session_id, check_due_at, object_id) VALUES (?, ?, ?, ?, ?)`,
            container,
            request.state,
            request.sessionId,
            request.checkDueAt,
            request.objectIdOf?.(container) ?? null
          )
          names.push(container)
        }
        return names
      }),
    promote: (container, checkDueAt, accept) =>
      atomic(() => {
        if (accept !== undefined && !accept(readCounts())) return false
        return sql.exec(
          `UPDATE wp_slots SET state = 'warm', session_id = NULL, check_due_at = ?
           WHERE container = ? AND state IN ('warming', 'starting')`,
          checkDueAt,
          container
        ).rowsWritten > 0
      }),
    bind: (container, sessionId, terms) =>
      atomic(() => {
        const slot = readSlot(container)
        if (slot === undefined || slot.state !== "starting" || readLease(sessionId) !== undefined) return false
        sql.exec(`UPDATE wp_slots SET state = 'acquired', session_id = ? WHERE container = ?`, sessionId, container)
        insertLease(sessionId, container, terms)
        return true
      }),
    release: (sessionId, decide, checkDueAt) =>
      atomic(() => {
        const lease = readLease(sessionId)
        if (lease === undefined) return undefined
        sql.exec(`DELETE FROM wp_leases WHERE session_id = ?`, sessionId)
        if (readSlot(lease.container) === undefined) return undefined
        const outcome = decide(readCounts(), toLease(lease))
        if (outcome === "warm") {
          sql.exec(
            `UPDATE wp_slots SET state = 'warm', session_id = NULL, check_due_at = ? WHERE container = ?`,
            checkDueAt,
            lease.container
          )
        } else {
          stopSlot(lease.container)
        }
        return { container: lease.container, outcome }
      }),
    expireLeases: (now, limit) =>
      atomic(() => {
        const expired = all<{ container: string }>(
          `SELECT container FROM wp_leases WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`,
          now,
          limit
        )
        for (const { container } of expired) stopSlot(container)
        return expired.map((row) => row.container)
      }),
    markStopping: (container) =>
      atomic(() => {
        const row = readSlot(container)
        if (row === undefined) return undefined
        stopSlot(container)
        return toSlot(row)
      }),
    markAllStopping: atomic(() => {
      sql.exec(`DELETE FROM wp_leases`)
      sql.exec(`UPDATE wp_slots SET state = 'stopping', session_id = NULL`)
      return all<{ container: string }>(`SELECT container FROM wp_slots`).map((row) => row.container)
    }),
    remove: (container) =>
      atomic(() => {
        sql.exec(`DELETE FROM wp_leases WHERE container = ?`, container)
        sql.exec(`DELETE FROM wp_slots WHERE container = ?`, container)
      }),
    dueForCheck: (now, limit) =>
      atomic(() =>
        all<SlotRow>(
          `SELECT container, state, session_id, check_due_at FROM wp_slots INDEXED BY wp_slots_checkable
           WHERE state IN ('warm', 'acquired') AND check_due_at <= ?
           ORDER BY check_due_at LIMIT ?`,
          now,
          limit
        ).map(toSlot)
      ),
    scheduleCheck: (container, at) =>
      atomic(() => void sql.exec(`UPDATE wp_slots SET check_due_at = ? WHERE container = ?`, at, container)),
    inState: (state, limit) =>
      atomic(() =>
        all<SlotRow>(
          `SELECT container, state, session_id, check_due_at FROM wp_slots WHERE state = ? LIMIT ?`,
          state,
          limit
        ).map(toSlot)
      ),
    slot: (container) =>
      atomic(() => {
        const row = readSlot(container)
        return row === undefined ? undefined : toSlot(row)
      }),
    containerByObjectId: (objectId) =>
      atomic(() =>
        one<{ container: string }>(`SELECT container FROM wp_slots WHERE object_id = ?`, objectId)?.container
      ),
    snapshot: atomic(() => ({
      slots: all<SlotRow>(`SELECT container, state, session_id, check_due_at FROM wp_slots`).map(toSlot),
      leases: all<LeaseRow>(`SELECT session_id, container, expires_at, cached_until FROM wp_leases`).map(toLease)
    }))
  }
}

/** The store for a Durable Object's storage. */
export const layer = (storage: DurableObjectStorage): Layer.Layer<PoolStore> =>
  Layer.sync(PoolStore, () => makeSqliteStore(storage))
