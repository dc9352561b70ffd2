/**
 * The pool's SQLite schema: the tables, their partial indexes and count triggers, and the columns
 * added since the first layout, which `migrate` adds to tables created before them.
 */
import { migrateRecycling, recyclingColumns } from "./SqliteRecycling.js"
import type { SqlStorageLike } from "./SqlitePoolStore.js"
import { onDelete, onInsert, onMove, poolMetricColumns, slotMetricColumns, stampOlderSlots } from "./SqliteMetrics.js"

export const states = ["warming", "starting", "warm", "acquired", "stopping"] as const

// Counts move with the rows; `(x = 'warm')` is 1 or 0, so each trigger writes the pool row once.
const countDelta = (row: "NEW" | "OLD", sign: "+" | "-") =>
  states.map((state) => `${state} = ${state} ${sign} (${row}.state = '${state}')`).join(", ")

export const schema = [
  `CREATE TABLE IF NOT EXISTS wp_pool (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT,
    shut_down INTEGER NOT NULL DEFAULT 0,
    start_failures INTEGER NOT NULL DEFAULT 0,
    ${states.map((state) => `${state} INTEGER NOT NULL DEFAULT 0`).join(",\n    ")},
    ${poolMetricColumns.map(([name, definition]) => `${name} ${definition}`).join(",\n    ")}
  )`,
  `INSERT OR IGNORE INTO wp_pool (id) VALUES (1)`,
  // A container's name is its Durable Object id, so a stop notice (which knows only the id) finds it.
  // An acquired row carries its lease; its next check is never later than the lease's deadline.
  `CREATE TABLE IF NOT EXISTS wp_slots (
    container TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN (${states.map((s) => `'${s}'`).join(", ")})),
    session_id TEXT,
    expires_at INTEGER NOT NULL DEFAULT 0,
    cached_until INTEGER NOT NULL DEFAULT 0,
    check_due_at INTEGER,
    binding TEXT,
    failed_checks INTEGER NOT NULL DEFAULT 0,
    fence INTEGER NOT NULL DEFAULT 0,
    ${slotMetricColumns.map(([name, definition]) => `${name} ${definition}`).join(",\n    ")}
  ) WITHOUT ROWID`,
  // Each index is partial, so a transition writes only the index entries it really changes.
  `CREATE UNIQUE INDEX IF NOT EXISTS wp_leases ON wp_slots (session_id) WHERE state = 'acquired'`,
  // Queries name `state <> 'acquired'` themselves: SQLite uses a partial index only for a term it sees verbatim.
  `CREATE INDEX IF NOT EXISTS wp_slots_unleased ON wp_slots (state) WHERE state <> 'acquired'`,
  // Health checks and lease expiry both walk this, in due order, a page at a time.
  `CREATE INDEX IF NOT EXISTS wp_slots_due ON wp_slots (check_due_at) WHERE check_due_at IS NOT NULL`,
  // The holders of a lease (scoped acquires, from any isolate): they go with the lease, whatever ends it.
  `CREATE TABLE IF NOT EXISTS wp_holders (
    container TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (container, holder)
  ) WITHOUT ROWID`,
  `CREATE TRIGGER IF NOT EXISTS wp_holders_lease_ended AFTER UPDATE OF state ON wp_slots
    WHEN OLD.state = 'acquired' AND NEW.state <> 'acquired' BEGIN
    DELETE FROM wp_holders WHERE container = OLD.container;
  END`,
  `CREATE TRIGGER IF NOT EXISTS wp_holders_slot_removed AFTER DELETE ON wp_slots BEGIN
    DELETE FROM wp_holders WHERE container = OLD.container;
  END`
]

/**
 * Counts and metrics move with the rows, each trigger writing the pool row once. They are created after
 * the added columns they name; `_v2` replaced triggers that kept counts only, and `moved_v3` the `moved_v2`
 * that counted a released container's return to the warm set as a start.
 */
const triggers = [
  ...["inserted", "deleted", "moved", "moved_v2"].map((name) => `DROP TRIGGER IF EXISTS wp_slots_${name}`),
  `CREATE TRIGGER IF NOT EXISTS wp_slots_inserted_v2 AFTER INSERT ON wp_slots BEGIN
    UPDATE wp_pool SET ${countDelta("NEW", "+")}, ${onInsert} WHERE id = 1;
  END`,
  `CREATE TRIGGER IF NOT EXISTS wp_slots_deleted_v2 AFTER DELETE ON wp_slots BEGIN
    UPDATE wp_pool SET ${countDelta("OLD", "-")}, ${onDelete} WHERE id = 1;
  END`,
  `CREATE TRIGGER IF NOT EXISTS wp_slots_moved_v3 AFTER UPDATE OF state ON wp_slots WHEN OLD.state <> NEW.state BEGIN
    UPDATE wp_pool SET ${
    states.map((s) => `${s} = ${s} + (NEW.state = '${s}') - (OLD.state = '${s}')`).join(", ")
  }, ${onMove} WHERE id = 1;
  END`
]

/**
 * Columns added to `wp_slots` after its first layout. Each is on the slot's own row, so writing it costs
 * no extra row. `binding`: the container binding the slot's container was started in (NULL on rows from
 * before it was recorded: the pool's current binding). `failed_checks`: health checks of a leased container
 * that failed in a row without an answer. `sliding`: 1 once plain `getContainer` used the lease (holders
 * leaving never end it). `fence`: the slot's lease epoch, bumped as each lease starts and as a released one
 * returns to the warm set: the token of the current lease (see `fence.ts`).
 */
const addedColumns: ReadonlyArray<readonly [name: string, definition: string]> = [
  ["binding", "TEXT"],
  ["failed_checks", "INTEGER NOT NULL DEFAULT 0"],
  ["sliding", "INTEGER NOT NULL DEFAULT 0"],
  ["fence", "INTEGER NOT NULL DEFAULT 0"],
  ...recyclingColumns
]

const hasColumn = (storage: SqlStorageLike, column: string, table = "wp_slots"): boolean => {
  try {
    storage.sql.exec(`SELECT ${column} FROM ${table} LIMIT 0`).toArray()
    return true
  } catch {
    return false
  }
}

const addColumns = (
  storage: SqlStorageLike,
  table: string,
  columns: ReadonlyArray<readonly [name: string, definition: string]>
): boolean => {
  let added = false
  for (const [column, definition] of columns) {
    if (!hasColumn(storage, column, table)) {
      storage.transactionSync(() => void storage.sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`))
      added = true
    }
  }
  return added
}

/**
 * Creates the tables if they do not exist yet, adds the columns an older table lacks, and (re)creates
 * the triggers. `now` starts the time of slots from before their state times were recorded.
 */
export const migrate = (storage: SqlStorageLike, now: number = Date.now()): void => {
  storage.transactionSync(() => {
    for (const statement of schema) storage.sql.exec(statement)
  })
  addColumns(storage, "wp_slots", addedColumns)
  addColumns(storage, "wp_pool", poolMetricColumns)
  const timed = addColumns(storage, "wp_slots", slotMetricColumns)
  storage.transactionSync(() => {
    for (const statement of triggers) storage.sql.exec(statement)
  })
  if (timed) stampOlderSlots(storage, now)
  migrateRecycling(storage)
}
