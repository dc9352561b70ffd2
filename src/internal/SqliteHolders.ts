/**
 * The holders of leases on SQLite: one row per scoped use of a lease, keyed by its container and the
 * id its client chose. Rows go with their lease (triggers in `SqliteSchema`), so a holder never
 * outlives the lease it held. Every method is one transaction.
 */
import type { HolderStatements } from "./PoolStore.js"
import type { SqlStorageLike } from "./SqlitePoolStore.js"
import { readLease, sqlOf, toLease } from "./SqlitePoolStore.js"

const liveCount = (q: ReturnType<typeof sqlOf>, container: string, now: number): number =>
  q.one<{ n: number }>(`SELECT count(*) AS n FROM wp_holders WHERE container = ? AND expires_at > ?`, container, now)
    ?.n ?? 0

/** The lease lives at least as long as its holder; its next check stays no later than its deadline. */
const raiseLease = (q: ReturnType<typeof sqlOf>, container: string, expiresAt: number) =>
  q.run(`UPDATE wp_slots SET expires_at = ? WHERE container = ? AND expires_at < ?`, expiresAt, container, expiresAt)

export const makeHolderStatements = (storage: SqlStorageLike): HolderStatements => {
  const q = sqlOf(storage)
  return {
    addHolder: (sessionId, container, holder, expiresAt) =>
      q.atomic("add lease holder", () => {
        if (readLease(q, sessionId)?.container !== container) return false
        q.run(
          `INSERT INTO wp_holders (container, holder, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (container, holder) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
          container,
          holder,
          expiresAt
        )
        raiseLease(q, container, expiresAt)
        return true
      }),
    extendHolder: (sessionId, holder, expiresAt) =>
      q.atomic("extend lease holder", () => {
        const row = readLease(q, sessionId)
        if (row === undefined) return false
        const held = q.one(`SELECT holder FROM wp_holders WHERE container = ? AND holder = ?`, row.container, holder)
        if (held === undefined) return false
        q.run(
          `UPDATE wp_holders SET expires_at = ? WHERE container = ? AND holder = ? AND expires_at < ?`,
          expiresAt,
          row.container,
          holder,
          expiresAt
        )
        raiseLease(q, row.container, expiresAt)
        return true
      }),
    removeHolder: (sessionId, holder, now) =>
      q.atomic("remove lease holder", () => {
        const row = readLease(q, sessionId)
        if (row === undefined) return undefined
        const removed = q.run(`DELETE FROM wp_holders WHERE container = ? AND holder = ?`, row.container, holder)
        return removed === 0 ? undefined : { lease: toLease(row), liveHoldersLeft: liveCount(q, row.container, now) }
      }),
    liveHolders: (container, now) => q.atomic("count lease holders", () => liveCount(q, container, now))
  }
}
