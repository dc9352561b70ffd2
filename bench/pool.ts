/**
 * The real `WarmPool` Durable Object (with its test hooks), its SQLite cursors counted (rowsRead
 * and rowsWritten), and two setup hooks the benchmark needs. The pool's code is unchanged.
 */
import { TestWarmPool as RealWarmPool } from "../test/support/TestWarmPool.js"

interface Counters {
  rowsRead: number
  rowsWritten: number
  statements: number
}

/**
 * Wraps `storage.sql.exec` to keep every cursor, whose counts are final once consumed. It patches
 * the object in place: workerd's DurableObject constructor accepts only the real `ctx`.
 */
const countCursors = (ctx: DurableObjectState, cursors: Array<SqlStorageCursor<any>>): SqlStorage["exec"] => {
  const sql = ctx.storage.sql
  if (ctx.storage.sql !== sql) throw new Error("storage.sql is not one object: cannot count its cursors")
  const exec = sql.exec.bind(sql)
  sql.exec = ((query: string, ...bindings: Array<any>) => {
    const cursor = exec(query, ...bindings)
    cursors.push(cursor)
    return cursor
  }) as typeof sql.exec
  return exec
}

export class WarmPool extends RealWarmPool {
  readonly #cursors: Array<SqlStorageCursor<any>>
  readonly #storage: DurableObjectStorage
  readonly #exec: SqlStorage["exec"]
  readonly #containers: DurableObjectNamespace

  constructor(ctx: DurableObjectState, env: { readonly CONTAINER: DurableObjectNamespace }) {
    const cursors: Array<SqlStorageCursor<any>> = []
    const uncounted = countCursors(ctx, cursors)
    super(ctx, env)
    this.#exec = uncounted
    this.#cursors = cursors
    this.#storage = ctx.storage
    this.#containers = env.CONTAINER
  }

  /** Rows read and written by the pool's statements since the last call. */
  takeSqlCounters(): Counters {
    const counters = { rowsRead: 0, rowsWritten: 0, statements: this.#cursors.length }
    for (const cursor of this.#cursors) {
      counters.rowsRead += cursor.rowsRead
      counters.rowsWritten += cursor.rowsWritten
    }
    this.#cursors.length = 0
    return counters
  }

  /**
   * Seeds `count` acquired slots with live leases, as assignments would leave them, in bulk.
   * Their health checks fall due after the benchmark ends, so only `makeDue` brings them in.
   */
  seed(_prefix: string, count: number, expiresAt: number, firstCheckAt: number, spreadMs: number): number {
    const exec = this.#exec
    for (let start = 0; start < count; start += 2_000) {
      this.#storage.transactionSync(() => {
        for (let i = start; i < Math.min(count, start + 2_000); i++) {
          // A container's name is its Durable Object id, as the pool makes them.
          const container = this.#containers.newUniqueId().toString()
          const due = firstCheckAt + Math.floor((spreadMs * i) / count)
          exec(
            `INSERT INTO wp_slots (container, state, session_id, expires_at, check_due_at) VALUES (?, 'acquired', ?, ?, ?)`,
            container,
            `seeded-${i}`,
            expiresAt,
            due
          )
        }
      })
    }
    return count
  }

  /** Makes the health checks of up to `limit` slots due now, so the next tick has a full page. */
  makeDue(limit: number): number {
    return this.#exec(
      `UPDATE wp_slots SET check_due_at = 0 WHERE container IN
         (SELECT container FROM wp_slots WHERE check_due_at IS NOT NULL ORDER BY check_due_at LIMIT ?)`,
      limit
    ).rowsWritten
  }

  /** Clears the alarm: ticks are run by the benchmark, not by the clock. */
  async disarm(): Promise<void> {
    await this.#storage.deleteAlarm()
  }
}

export default { fetch: () => new Response("pool") }
