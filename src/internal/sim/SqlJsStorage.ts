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

export interface NodeSqlStorage extends SqlStorageLike {
  readonly close: () => void
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
  let depth = 0
  const run = (query: string) => void execute(db, cache, query, [])
  return {
    sql: {
      exec: <T extends Record<string, SqlValue>>(query: string, ...bindings: Array<SqlValue>) => {
        const { rows, rowsWritten } = execute(db, cache, query, bindings)
        return { toArray: () => rows as Array<T>, rowsWritten }
      }
    },
    // Savepoints nest, as workerd's transactionSync does: an inner failure that is caught keeps the outer work.
    transactionSync: <T>(body: () => T): T => {
      const name = `wp_sp${depth++}`
      run(`SAVEPOINT ${name}`)
      try {
        const result = body()
        run(`RELEASE ${name}`)
        return result
      } catch (error) {
        run(`ROLLBACK TO ${name}`)
        run(`RELEASE ${name}`)
        throw error
      } finally {
        depth--
      }
    },
    close: () => {
      for (const statement of cache.values()) statement.free()
      cache.clear()
      db.close()
    }
  }
}
