/**
 * What recycling and scale-down read from SQLite: each slot's revision, reservation time and idle
 * start (on its own row; the times are the metrics' `created_at` and `since`), and the count of slots of
 * older revisions, kept on the pool's row.
 *
 * The count costs nothing in steady state: it is recounted only when the pool's revision changes (one
 * scan per deploy), and a trigger lowers it when an older slot goes; while no older slot is left, that
 * trigger's update matches no row and writes nothing.
 */
import type { Sql, SqlStorageLike } from "./SqlitePoolStore.js"
import { SLOT, type SlotRow, toSlot } from "./SqlitePoolStore.js"

/**
 * Columns `migrate` adds to `wp_slots`. `revision`: the config's revision when the slot was reserved (NULL
 * when it had none). A slot's age and idle time come from the metrics' `created_at` and `since` (when it
 * entered its state: for a warm slot, when it became warm).
 */
export const recyclingColumns: ReadonlyArray<readonly [name: string, definition: string]> = [
  ["revision", "TEXT"]
]

const hasPoolColumn = (storage: SqlStorageLike, column: string): boolean => {
  try {
    storage.sql.exec(`SELECT ${column} FROM wp_pool LIMIT 0`).toArray()
    return true
  } catch {
    return false
  }
}

/** The pool row's revision and older-revision count, and the trigger that keeps the count. */
export const migrateRecycling = (storage: SqlStorageLike): void => {
  for (const [column, definition] of [["revision", "TEXT"], ["older_revision", "INTEGER NOT NULL DEFAULT 0"]]) {
    if (!hasPoolColumn(storage, column!)) {
      storage.transactionSync(() => void storage.sql.exec(`ALTER TABLE wp_pool ADD COLUMN ${column} ${definition}`))
    }
  }
  storage.transactionSync(() =>
    void storage.sql.exec(
      `CREATE TRIGGER IF NOT EXISTS wp_slots_older_gone AFTER DELETE ON wp_slots BEGIN
        UPDATE wp_pool SET older_revision = older_revision - 1
        WHERE id = 1 AND older_revision > 0 AND OLD.revision IS NOT revision;
      END`
    )
  )
}

export const recyclingStatements = (q: Sql) => ({
  /**
   * Records the pool's current revision; when it changed, recounts the slots of other revisions (the
   * only scan, once per change). Returns whether it changed.
   */
  noticeRevision: (revision: string | undefined) =>
    q.atomic("notice revision", () => {
      const held = q.one<{ revision: string | null }>(`SELECT revision FROM wp_pool`)
      if ((held?.revision ?? null) === (revision ?? null)) return false
      q.run(
        `UPDATE wp_pool SET revision = ?, older_revision = (SELECT count(*) FROM wp_slots WHERE revision IS NOT ?)`,
        revision ?? null,
        revision ?? null
      )
      return true
    }),
  /** A slot goes stopping only if it is still warm, in one step: a container leased since is left alone. */
  stopIfWarm: (container: string) =>
    q.atomic("stop warm slot", () =>
      q.run(
        `UPDATE wp_slots SET state = 'stopping', session_id = NULL, check_due_at = NULL, since = ?
         WHERE container = ? AND state = 'warm'`,
        q.now(),
        container
      ) > 0),
  /** Slots held of revisions other than the pool's current one, as last noticed. */
  olderRevisions: q.atomic(
    "read older revisions",
    () => q.one<{ older_revision: number }>(`SELECT older_revision FROM wp_pool`)?.older_revision ?? 0
  ),
  /** Warm slots of another revision than `revision`, or reserved at or before `bornBy`; oldest first. */
  warmToRecycle: (revision: string | undefined, bornBy: number, limit: number) =>
    q.atomic("read warm slots to recycle", () =>
      q.all<SlotRow>(
        `SELECT ${SLOT} FROM wp_slots WHERE state = 'warm' AND state <> 'acquired'
         AND (revision IS NOT ? OR created_at <= ?) ORDER BY created_at LIMIT ?`,
        revision ?? null,
        bornBy,
        limit
      ).map(toSlot)),
  /** Warm slots warm (idle) since `idleBy` or earlier, longest idle first. */
  idleWarm: (idleBy: number, limit: number) =>
    q.atomic("read idle warm slots", () =>
      q.all<SlotRow>(
        `SELECT ${SLOT} FROM wp_slots WHERE state = 'warm' AND state <> 'acquired'
         AND since <= ? ORDER BY since LIMIT ?`,
        idleBy,
        limit
      ).map(toSlot))
})
