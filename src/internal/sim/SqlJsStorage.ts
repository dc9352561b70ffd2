/**
 * The pool's SQLite storage for plain Node: SQLite compiled to WebAssembly (sql.js) behind the part of a
 * Durable Object's storage the store uses (`sql.exec`, `transactionSync`). The simulator runs the very
 * store production runs (`SqlitePoolStore`), so both share one set of SQL and one set of semantics.
 */
import initSqlJs from "sql.js"
import type { Database, Statement } from "sql.js"
import type { SqlStorageLike } from "../SqlitePoolStore.js"

type SqlValue = ArrayBuffer | string | number | null

const WRITES = /^\s*(INSERT|UPDATE|DELETE|REPLACE|WITH)\b/i
/** Statements that only read (a `SELECT` never writes; `WITH` may, so it is not one). */
const READS = /^\s*SELECT\b/i

export interface NodeSqlStorage extends SqlStorageLike {
  readonly close: () => void
  /** Bumped by every statement that wrote a row: what was read before is still true while it stands. */
  readonly version: () => number
}

/** Runs one statement (cached once prepared) and reads every row, as workerd's cursors would. */
const execute = (db: Database, cache: Map<string, Statement>, query: string, bindings: ReadonlyArray<SqlValue>) => {
  let statement = cache.get(query)
  if (statement === undefined) {
    statement = db.prepare(query)
    cache.set(query, statement)
  }
  const rows: Array<Record<string, SqlValue>> = []
  try {
    statement.bind(bindings.map((value) => value instanceof ArrayBuffer ? new Uint8Array(value) : value))
    while (statement.step()) rows.push(statement.getAsObject() as Record<string, SqlValue>)
  } finally {
    statement.reset()
  }
  return { rows, rowsWritten: WRITES.test(query) ? db.getRowsModified() : 0 }
}

/** A fresh in-memory database. */
export const makeNodeSqlStorage = async (): Promise<NodeSqlStorage> => {
  const SQL = await initSqlJs()
  const db = new SQL.Database()
  // Nothing else opens this database: no locks, no journal files (sql.js keeps files in an emulated file system).
  db.exec("PRAGMA journal_mode = MEMORY; PRAGMA locking_mode = EXCLUSIVE; PRAGMA temp_store = MEMORY")
  const cache = new Map<string, Statement>()
  const run = (query: string) => void execute(db, cache, query, [])
  let version = 0
  // Savepoints nest, as workerd's transactionSync does: an inner failure that is caught keeps the outer work.
  // Each is opened only before its transaction's first write: one that only reads has nothing to undo.
  const savepoints: Array<{ readonly name: string; opened: boolean }> = []
  const openSavepoints = () => {
    for (const savepoint of savepoints) {
      if (!savepoint.opened) {
        run(`SAVEPOINT ${savepoint.name}`)
        savepoint.opened = true
      }
    }
  }
  return {
    sql: {
      exec: <T extends Record<string, SqlValue>>(query: string, ...bindings: Array<SqlValue>) => {
        if (!READS.test(query)) openSavepoints()
        const { rows, rowsWritten } = execute(db, cache, query, bindings)
        if (rowsWritten > 0) version++
        return { toArray: () => rows as Array<T>, rowsWritten }
      }
    },
    transactionSync: <T>(body: () => T): T => {
      const savepoint = { name: `wp_sp${savepoints.length}`, opened: false }
      savepoints.push(savepoint)
      try {
        const result = body()
        if (savepoint.opened) run(`RELEASE ${savepoint.name}`)
        return result
      } catch (error) {
        if (savepoint.opened) {
          run(`ROLLBACK TO ${savepoint.name}`)
          run(`RELEASE ${savepoint.name}`)
        }
        throw error
      } finally {
        savepoints.pop()
      }
    },
    version: () => version,
    close: () => {
      for (const statement of cache.values()) statement.free()
      cache.clear()
      db.close()
    }
  }
}
