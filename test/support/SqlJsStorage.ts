/**
 * A Durable Object storage shim for plain Node: the subset of `DurableObjectStorage` that a
 * SQLite-backed store uses (`sql.exec` and `transactionSync`), over sql.js (SQLite compiled to
 * WebAssembly, no native addon). Unit tests can run the real SQLite store with it.
 *
 * What mirrors workerd's DO SQLite (src/workerd/api/sql.c++ and util/sqlite.c++):
 * - `exec(query, ...bindings)` runs one statement with positional `?` bindings. Given several
 *   statements separated by `;`, it runs them in order and returns the cursor of the last one;
 *   only the last one may have parameters. A query without a statement is an error.
 * - The number of bindings must equal the statement's parameter count.
 * - Every JS number is bound as a REAL (`sqlite3_bind_double`), as workerd does, so `? / 2` with 5
 *   is 2.5 and 5 stored in a TEXT column reads back "5.0". Integers read back as JS numbers
 *   (int64 coerced to double, as workerd does). Strings bind as TEXT, ArrayBuffer (or a view) as
 *   BLOB, null and undefined as NULL; BLOBs read back as ArrayBuffer. Other types are a TypeError.
 * - Cursors: `toArray()`, `one()`, `next()`, `raw()`, `columnNames`, iteration; a cursor is
 *   consumed as it is read. `one()` throws workerd's messages unless exactly one row remains.
 * - `transactionSync(fn)` commits when `fn` returns and rolls back and rethrows when it throws;
 *   nested calls use savepoints, so an inner failure that is caught keeps the outer work.
 * - SQL that workerd's authorizer refuses is refused: BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE
 *   (with workerd's message pointing at transactionSync), ATTACH/DETACH, TEMP objects, and PRAGMAs
 *   outside workerd's allowlist (`table_info`, `table_xinfo`, `table_list`, `foreign_keys`, ...).
 * - `PRAGMA foreign_keys` starts ON (workerd builds SQLite with SQLITE_DEFAULT_FOREIGN_KEYS=1);
 *   recursive triggers are off.
 * - SQLite errors are `Error`s whose message is SQLite's, followed by `: SQLITE_<CODE>` and, where
 *   it differs, ` (extended: SQLITE_<CODE>_<DETAIL>)`, as workerd formats them (without workerd's
 *   " at offset N", which sql.js cannot report). The sql.js error is kept as `cause`.
 *
 * Where it differs:
 * - `rowsWritten` is SQLite's `changes()` for INSERT/REPLACE/UPDATE/DELETE (also after a WITH
 *   prefix) and 0 for every other statement. workerd counts every b-tree write instead: index
 *   entries, rows written by triggers, the delete half of a REPLACE and schema rows of DDL all add
 *   to it. So "> 0 when the statement changed a row" agrees; exact counts do not.
 * - `rowsRead` is always 0: sql.js exposes no per-statement read counter. Assert index use with
 *   `EXPLAIN QUERY PLAN` (which this shim allows) rather than with `rowsRead`.
 * - Results are read eagerly: `exec` steps the statement to completion before returning, so all
 *   writes and both counters are final at once. (workerd steps lazily as the cursor is read.)
 * - SQLite is the one bundled by sql.js (see `sqliteVersion`), built without FTS5, R*Tree and
 *   `UPDATE/DELETE ... LIMIT`, which workerd has. workerd's allowlist of SQL functions is not
 *   enforced (e.g. `sqlite_version()` works here and not there), nor its `_cf_` table prefix.
 *
 * Prepared statements are cached per query string (up to 1,000 queries) and reused; `close()`
 * frees them and the database. The database runs with `locking_mode = EXCLUSIVE` and
 * `journal_mode = MEMORY`, which only make it faster. A simple statement costs a few µs.
 */
import initSqlJs from "sql.js"
import type { Database, SqlJsStatic, Statement } from "sql.js"

/** A value SQLite hands back or takes as a binding, as in workerd's `SqlStorageValue`. */
export type SqlValue = string | number | null | ArrayBuffer

/** The part of workerd's `SqlStorageCursor` that a store reads. */
export interface SqlCursorLike<T> {
  toArray(): T[]
  one(): T
  readonly rowsRead: number
  readonly rowsWritten: number
  [Symbol.iterator](): IterableIterator<T>
}

/** The part of `DurableObjectStorage` that a SQLite store uses (the real one satisfies it too). */
export interface StorageLike {
  readonly sql: {
    exec<T extends Record<string, SqlValue>>(query: string, ...bindings: Array<SqlValue>): SqlCursorLike<T>
  }
  transactionSync<T>(fn: () => T): T
}

/** The shim's own storage: the shape above, a fuller cursor, and `close()`. */
export interface SqlJsStorage extends StorageLike {
  readonly sql: {
    exec<T extends Record<string, SqlValue>>(query: string, ...bindings: Array<SqlValue>): SqlJsCursor<T>
    /** Bytes the database file takes, as workerd's `sql.databaseSize`. */
    readonly databaseSize: number
  }
  /** Frees every cached statement and the database; the storage is unusable afterwards. */
  close(): void
}

// ---------------------------------------------------------------------------------------------
// sql.js internals this shim relies on

/** Raw SQLite entry points that sql.js exports on its module object but does not declare. */
interface SqliteExports {
  _sqlite3_bind_double(stmt: number, index: number, value: number): number
  _sqlite3_clear_bindings(stmt: number): number
  _sqlite3_column_count(stmt: number): number
}

const SQLITE_OK = 0
const SQLITE_RANGE = 25

/** Primary result codes by number, for workerd-style messages. */
const primaryCodeNames: Record<number, string> = {
  1: "SQLITE_ERROR", 2: "SQLITE_INTERNAL", 3: "SQLITE_PERM", 4: "SQLITE_ABORT", 5: "SQLITE_BUSY",
  6: "SQLITE_LOCKED", 7: "SQLITE_NOMEM", 8: "SQLITE_READONLY", 9: "SQLITE_INTERRUPT",
  10: "SQLITE_IOERR", 11: "SQLITE_CORRUPT", 12: "SQLITE_NOTFOUND", 13: "SQLITE_FULL",
  14: "SQLITE_CANTOPEN", 15: "SQLITE_PROTOCOL", 16: "SQLITE_EMPTY", 17: "SQLITE_SCHEMA",
  18: "SQLITE_TOOBIG", 19: "SQLITE_CONSTRAINT", 20: "SQLITE_MISMATCH", 21: "SQLITE_MISUSE",
  22: "SQLITE_NOLFS", 23: "SQLITE_AUTH", 24: "SQLITE_FORMAT", 25: "SQLITE_RANGE", 26: "SQLITE_NOTADB",
  27: "SQLITE_NOTICE", 28: "SQLITE_WARNING"
}

/** An sql.js failure (an Error with `code`/`errcode`, or a thrown string) as a workerd-style Error. */
const sqliteError = (cause: unknown): Error => {
  if (!(cause instanceof Error)) return new Error(String(cause), { cause })
  const { code, errcode } = cause as Error & { code?: unknown; errcode?: unknown }
  if (typeof errcode !== "number") return cause
  const primary = primaryCodeNames[errcode & 0xff] ?? `SQLITE_${errcode & 0xff}`
  const extended = typeof code === "string" && code !== primary ? ` (extended: ${code})` : ""
  return new Error(`${cause.message}: ${primary}${extended}`, { cause })
}

const loadSqlJs = async (): Promise<SqlJsStatic> => {
  const SQL = await initSqlJs()
  const raw = SQL as unknown as Partial<SqliteExports>
  if (
    typeof raw._sqlite3_bind_double !== "function" || typeof raw._sqlite3_clear_bindings !== "function" ||
    typeof raw._sqlite3_column_count !== "function"
  ) {
    throw new Error("SqlJsStorage: this sql.js build does not export the raw sqlite3_* functions it needs")
  }
  return SQL
}

/** The one sql.js instance: the wasm is compiled once per module instance. */
export const ready: Promise<SqlJsStatic> = loadSqlJs()
const SQL = await ready
const raw = SQL as unknown as SqliteExports

/**
 * sql.js keeps each statement's `sqlite3_stmt*` under a minified property name. Find it once, by
 * matching a statement against the database's registry of statements by pointer, then check that
 * binding through it does what workerd does.
 */
const statementPointerKey: string = (() => {
  const db = new SQL.Database()
  try {
    const probe = db.prepare("SELECT ?1 AS v, typeof(?1) AS t")
    const registries = Object.values(db).filter(
      (value): value is Record<string, unknown> => typeof value === "object" && value !== null && !(value instanceof Map)
    )
    const key = Object.keys(probe).find((k) => {
      const pointer = (probe as unknown as Record<string, unknown>)[k]
      return typeof pointer === "number" && pointer > 1 &&
        registries.some((registry) => registry[String(pointer)] === probe)
    })
    if (key === undefined) throw new Error("SqlJsStorage: cannot find sql.js's statement pointer")
    const pointer = (probe as unknown as Record<string, number>)[key]!
    probe.reset()
    const bound = raw._sqlite3_bind_double(pointer, 1, 5)
    const outOfRange = raw._sqlite3_bind_double(pointer, 2, 0)
    probe.step()
    const [v, t] = probe.get()
    if (bound !== SQLITE_OK || outOfRange !== SQLITE_RANGE || v !== 5 || t !== "real") {
      throw new Error("SqlJsStorage: binding through sql.js's statement pointer does not behave as expected")
    }
    return key
  } finally {
    db.close()
  }
})()

const pointerOf = (stmt: Statement): number => (stmt as unknown as Record<string, number>)[statementPointerKey]!

/** The number of parameters a fresh (unbound, reset) statement takes: the highest valid index. */
const parameterCount = (pointer: number): number => {
  let n = 0
  while (raw._sqlite3_bind_double(pointer, n + 1, 0) !== SQLITE_RANGE) n++
  raw._sqlite3_clear_bindings(pointer)
  return n
}

/** The SQLite version sql.js bundles. */
export const sqliteVersion: string = (() => {
  const db = new SQL.Database()
  try {
    return String(db.exec("SELECT sqlite_version()")[0]!.values[0]![0])
  } finally {
    db.close()
  }
})()

// ---------------------------------------------------------------------------------------------
// Reading statements: just enough of SQLite's lexer to classify them

interface Token {
  /** Upper-cased for bare words; the content for quoted identifiers; the character otherwise. */
  readonly text: string
  /** Parenthesis depth at the token. */
  readonly depth: number
  readonly word: boolean
}

function* tokens(sql: string): Generator<Token> {
  let i = 0
  let depth = 0
  const n = sql.length
  while (i < n) {
    const c = sql[i]!
    if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i)
      i = end === -1 ? n : end + 1
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2)
      i = end === -1 ? n : end + 2
    } else if (/\s/.test(c)) {
      i++
    } else if (c === "'" || c === '"' || c === "`" || c === "[") {
      const close = c === "[" ? "]" : c
      let j = i + 1
      let text = ""
      for (;;) {
        const end = sql.indexOf(close, j)
        if (end === -1) {
          text += sql.slice(j)
          j = n
          break
        }
        text += sql.slice(j, end)
        if (close !== "]" && sql[end + 1] === close) {
          text += close
          j = end + 2
        } else {
          j = end + 1
          break
        }
      }
      // A single-quoted string is a literal, not a name; report it as such.
      yield { text: c === "'" ? "'" : text, depth, word: c !== "'" }
      i = j
    } else if (/[A-Za-z0-9_$\u0080-\uffff]/.test(c)) {
      let j = i + 1
      while (j < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[j]!)) j++
      yield { text: sql.slice(i, j).toUpperCase(), depth, word: true }
      i = j
    } else {
      if (c === "(") {
        yield { text: c, depth, word: false }
        depth++
      } else if (c === ")") {
        depth = Math.max(0, depth - 1)
        yield { text: c, depth, word: false }
      } else {
        yield { text: c, depth, word: false }
      }
      i++
    }
  }
}

/** True when SQL has nothing left to run: only whitespace, comments and semicolons. */
const isBlankSql = (sql: string): boolean => {
  for (const token of tokens(sql)) if (token.text !== ";") return false
  return true
}

const transactionMessage =
  "To execute a transaction, please use the state.storage.transaction() or " +
  "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT " +
  "statements. The JavaScript API is safer because it will automatically roll back on " +
  "exceptions, and because it interacts correctly with Durable Objects' automatic atomic " +
  "write coalescing."

const notAuthorized = "not authorized: SQLITE_AUTH"

/** workerd's PRAGMA allowlist: those that take no argument, and those that may. */
const pragmasWithoutArgument = new Set(["DATA_VERSION", "PAGE_SIZE"])
const pragmasWithArgument = new Set([
  "TABLE_LIST", "TABLE_INFO", "TABLE_XINFO",
  "CASE_SENSITIVE_LIKE", "FOREIGN_KEYS", "DEFER_FOREIGN_KEYS", "IGNORE_CHECK_CONSTRAINTS",
  "LEGACY_ALTER_TABLE", "RECURSIVE_TRIGGERS", "REVERSE_UNORDERED_SELECTS",
  "FOREIGN_KEY_CHECK", "FOREIGN_KEY_LIST", "INDEX_INFO", "INDEX_LIST", "INDEX_XINFO",
  "QUICK_CHECK", "OPTIMIZE"
])

const writeVerbs = new Set(["INSERT", "REPLACE", "UPDATE", "DELETE"])

interface Analysis {
  /** The statement's `changes()` is its row count: INSERT, REPLACE, UPDATE or DELETE. */
  readonly writes: boolean
  /** The message to refuse the statement with, where workerd refuses it. */
  readonly refusal?: string
}

const analyse = (sql: string): Analysis => {
  const stream = tokens(sql)
  const next = (): Token | undefined => {
    const result = stream.next()
    return result.done ? undefined : result.value
  }
  const first = next()
  switch (first?.text) {
    case "BEGIN":
    case "COMMIT":
    case "END":
    case "ROLLBACK":
    case "SAVEPOINT":
    case "RELEASE":
      return { writes: false, refusal: transactionMessage }
    case "ATTACH":
    case "DETACH":
      return { writes: false, refusal: notAuthorized }
    case "CREATE": {
      const second = next()?.text
      return second === "TEMP" || second === "TEMPORARY"
        ? { writes: false, refusal: notAuthorized }
        : { writes: false }
    }
    case "PRAGMA": {
      let name = next()
      let after = next()
      if (after?.text === ".") {
        name = next()
        after = next()
      }
      const pragma = name?.word ? name.text.toUpperCase() : ""
      const hasArgument = after !== undefined && after.text !== ";"
      const allowed = pragmasWithArgument.has(pragma) || (pragmasWithoutArgument.has(pragma) && !hasArgument)
      return allowed ? { writes: false } : { writes: false, refusal: notAuthorized }
    }
    case "WITH":
      for (let token = next(); token !== undefined; token = next()) {
        if (token.depth > 0 || !token.word) continue
        if (writeVerbs.has(token.text)) return { writes: true }
        if (token.text === "SELECT" || token.text === "VALUES") return { writes: false }
      }
      return { writes: false }
    default:
      return { writes: first !== undefined && writeVerbs.has(first.text) }
  }
}

// ---------------------------------------------------------------------------------------------
// Cursors

type RawRow = Array<SqlValue>

/** A cursor over rows already read, consumed as workerd's is. */
export class SqlJsCursor<T extends Record<string, SqlValue>> {
  #position = 0

  constructor(
    readonly columnNames: Array<string>,
    private readonly rows: Array<RawRow>,
    readonly rowsWritten: number,
    readonly rowsRead = 0
  ) {}

  #object(row: RawRow): T {
    const object: Record<string, SqlValue> = {}
    const names = this.columnNames
    for (let i = 0; i < names.length; i++) object[names[i]!] = row[i]!
    return object as T
  }

  next(): { done?: false; value: T } | { done: true; value?: never } {
    if (this.#position >= this.rows.length) return { done: true }
    return { value: this.#object(this.rows[this.#position++]!) }
  }

  toArray(): Array<T> {
    const out: Array<T> = []
    while (this.#position < this.rows.length) out.push(this.#object(this.rows[this.#position++]!))
    return out
  }

  one(): T {
    if (this.#position >= this.rows.length) {
      throw new Error("Expected exactly one result from SQL query, but got no results.")
    }
    const row = this.#object(this.rows[this.#position++]!)
    if (this.#position < this.rows.length) {
      this.#position = this.rows.length
      throw new Error("Expected exactly one result from SQL query, but got multiple results.")
    }
    return row
  }

  *raw<U extends Array<SqlValue>>(): IterableIterator<U> {
    while (this.#position < this.rows.length) yield this.rows[this.#position++]!.slice() as U
  }

  *[Symbol.iterator](): IterableIterator<T> {
    while (this.#position < this.rows.length) yield this.#object(this.rows[this.#position++]!)
  }
}

// ---------------------------------------------------------------------------------------------
// The storage

interface Prepared {
  readonly stmt: Statement
  readonly pointer: number
  readonly parameters: number
  readonly writes: boolean
}

/** The cache entry of a query holding several statements: it runs through sql.js's iterator. */
const MULTI = Symbol("multi")

/** Queries whose statements stay prepared; beyond it the oldest are freed. */
const CACHE_LIMIT = 1000

/** A workerd binding as sql.js takes it; numbers are bound separately, as REAL. */
const toSqlJs = (value: unknown): string | Uint8Array | null => {
  switch (typeof value) {
    case "string":
      return value
    case "number":
    case "undefined":
      return null
    case "object":
      if (value === null) return null
      if (value instanceof ArrayBuffer) return new Uint8Array(value)
      if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  }
  throw new TypeError(
    `SQL bindings must be a string, number, null or ArrayBuffer (as in workerd); got ${
      typeof value === "object" ? Object.prototype.toString.call(value) : typeof value
    }`
  )
}

/** A value sql.js read, as workerd hands it back: BLOBs as ArrayBuffer. */
const fromSqlJs = (value: unknown): SqlValue => {
  if (value instanceof Uint8Array) {
    return value.byteOffset === 0 && value.byteLength === value.buffer.byteLength
      ? (value.buffer as ArrayBuffer)
      : (value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) as ArrayBuffer)
  }
  return value as SqlValue
}

class Store implements SqlJsStorage {
  readonly #db: Database
  readonly #cache = new Map<string, Prepared | typeof MULTI>()
  /** Statements of transactionSync and databaseSize, outside the user cache and its checks. */
  readonly #internal = new Map<string, Statement>()
  #depth = 0
  #closed = false

  readonly sql: SqlJsStorage["sql"]

  constructor() {
    this.#db = new SQL.Database()
    // Foreign keys on and recursive triggers off, as workerd builds SQLite. The other two only save
    // work: sql.js keeps its database in an in-memory file, and with the default locking every
    // autocommit statement takes and drops the file lock and revalidates its page cache through
    // Emscripten's JS file system (5-10x slower per statement). There is one connection, so holding
    // the lock changes nothing else; ROLLBACK and savepoints work as usual with the journal in memory.
    this.#db.exec(
      "PRAGMA foreign_keys = ON; PRAGMA recursive_triggers = OFF; " +
        "PRAGMA journal_mode = MEMORY; PRAGMA locking_mode = EXCLUSIVE"
    )
    const store = this
    this.sql = {
      exec: <T extends Record<string, SqlValue>>(query: string, ...bindings: Array<SqlValue>) =>
        store.#exec<T>(query, bindings),
      get databaseSize() {
        return store.#internalValue("PRAGMA page_count") * store.#internalValue("PRAGMA page_size")
      }
    }
  }

  transactionSync<T>(fn: () => T): T {
    this.#open()
    const depth = this.#depth
    const savepoint = `_cf_sync_savepoint_${depth}`
    this.#internalRun(depth === 0 ? "BEGIN" : `SAVEPOINT ${savepoint}`)
    this.#depth++
    let result: T
    try {
      result = fn()
    } catch (error) {
      this.#depth--
      this.#rollback(depth, savepoint)
      throw error
    }
    this.#depth--
    try {
      this.#internalRun(depth === 0 ? "COMMIT" : `RELEASE ${savepoint}`)
    } catch (error) {
      // A COMMIT can fail (a deferred foreign key, say) and leave the transaction open.
      this.#rollback(depth, savepoint)
      throw error
    }
    return result
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const entry of this.#cache.values()) if (entry !== MULTI) entry.stmt.free()
    for (const stmt of this.#internal.values()) stmt.free()
    this.#cache.clear()
    this.#internal.clear()
    this.#db.close()
  }

  #open() {
    if (this.#closed) throw new Error("SqlJsStorage: the storage is closed")
  }

  #rollback(depth: number, savepoint: string) {
    try {
      if (depth === 0) {
        this.#internalRun("ROLLBACK")
      } else {
        this.#internalRun(`ROLLBACK TO ${savepoint}`)
        this.#internalRun(`RELEASE ${savepoint}`)
      }
    } catch {
      // SQLite already rolled back (some errors do): nothing is left to undo.
    }
  }

  #internalStatement(sql: string): Statement {
    let stmt = this.#internal.get(sql)
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql)
      this.#internal.set(sql, stmt)
    }
    return stmt
  }

  #internalRun(sql: string) {
    const stmt = this.#internalStatement(sql)
    try {
      stmt.step()
    } catch (error) {
      throw sqliteError(error)
    } finally {
      stmt.reset()
    }
  }

  #internalValue(sql: string): number {
    this.#open()
    const stmt = this.#internalStatement(sql)
    try {
      stmt.step()
      return Number(stmt.get()[0])
    } finally {
      stmt.reset()
    }
  }

  #exec<T extends Record<string, SqlValue>>(query: string, bindings: Array<SqlValue>): SqlJsCursor<T> {
    this.#open()
    let entry = this.#cache.get(query)
    if (entry === undefined) {
      entry = this.#prepareQuery(query)
      if (entry === undefined) return this.#execMulti<T>(query, bindings)
      this.#remember(query, entry)
    }
    if (entry === MULTI) return this.#execMulti<T>(query, bindings)
    return this.#run<T>(entry, bindings)
  }

  #remember(query: string, entry: Prepared | typeof MULTI) {
    if (this.#cache.size >= CACHE_LIMIT) {
      const [oldestQuery, oldest] = this.#cache.entries().next().value!
      this.#cache.delete(oldestQuery)
      if (oldest !== MULTI) oldest.stmt.free()
    }
    this.#cache.set(query, entry)
  }

  /** Prepares a one-statement query for the cache; `undefined` when it holds several statements. */
  #prepareQuery(query: string): Prepared | undefined {
    // Without a `;` there is one statement at most; with one, let SQLite's parser decide.
    if (query.includes(";")) {
      const statements = this.#db.iterateStatements(query)
      let single: boolean
      try {
        const first = statements.next()
        if (first.done) throw new Error("SQL code did not contain a statement.")
        single = isBlankSql(statements.getRemainingSQL())
      } catch (error) {
        throw sqliteError(error)
      } finally {
        drain(statements)
      }
      if (!single) {
        this.#remember(query, MULTI)
        return undefined
      }
    } else if (isBlankSql(query)) {
      throw new Error("SQL code did not contain a statement.")
    }
    return this.#prepareOne(query)
  }

  #prepareOne(sql: string): Prepared {
    const analysis = analyse(sql)
    if (analysis.refusal !== undefined) throw new Error(analysis.refusal)
    let stmt: Statement
    try {
      stmt = this.#db.prepare(sql)
    } catch (error) {
      throw sqliteError(error)
    }
    const pointer = pointerOf(stmt)
    return { stmt, pointer, parameters: parameterCount(pointer), writes: analysis.writes }
  }

  #run<T extends Record<string, SqlValue>>(prepared: Prepared, bindings: Array<SqlValue>): SqlJsCursor<T> {
    const { parameters, pointer, stmt } = prepared
    if (bindings.length !== parameters) throw new Error("Wrong number of parameter bindings for SQL query.")
    const rows: Array<RawRow> = []
    try {
      let viaSqlJs: Array<string | Uint8Array | null> | undefined
      for (let i = 0; i < bindings.length; i++) {
        const value = bindings[i]
        const converted = toSqlJs(value)
        if (converted !== null) (viaSqlJs ??= new Array<null>(bindings.length).fill(null))[i] = converted
      }
      // Either binds resets the statement and clears its previous bindings first.
      if (viaSqlJs === undefined) stmt.reset()
      else stmt.bind(viaSqlJs)
      for (let i = 0; i < bindings.length; i++) {
        const value = bindings[i]
        if (typeof value === "number") {
          const code = raw._sqlite3_bind_double(pointer, i + 1, value)
          // sql.js's handleError throws SQLite's message for the code.
          if (code !== SQLITE_OK) (this.#db as unknown as { handleError(code: number): never }).handleError(code)
        }
      }
      while (stmt.step()) {
        const row = stmt.get() as Array<unknown>
        for (let i = 0; i < row.length; i++) if (row[i] instanceof Uint8Array) row[i] = fromSqlJs(row[i])
        rows.push(row as RawRow)
      }
    } catch (error) {
      stmt.reset()
      throw sqliteError(error)
    }
    const columns = raw._sqlite3_column_count(pointer) === 0 ? [] : stmt.getColumnNames()
    const written = prepared.writes ? this.#db.getRowsModified() : 0
    return new SqlJsCursor<T>(columns, rows, written)
  }

  /** Several statements: each runs as it is parsed (later ones may use what earlier ones made). */
  #execMulti<T extends Record<string, SqlValue>>(query: string, bindings: Array<SqlValue>): SqlJsCursor<T> {
    const statements = this.#db.iterateStatements(query)
    try {
      let result: SqlJsCursor<T> | undefined
      for (;;) {
        let step: ReturnType<typeof statements.next>
        let last: boolean
        try {
          step = statements.next()
          last = step.done ? true : isBlankSql(statements.getRemainingSQL())
        } catch (error) {
          throw sqliteError(error)
        }
        if (step.done) break
        const stmt = step.value
        const analysis = analyse(stmt.getSQL())
        if (analysis.refusal !== undefined) throw new Error(analysis.refusal)
        const pointer = pointerOf(stmt)
        const parameters = parameterCount(pointer)
        if (!last && parameters > 0) {
          throw new Error(
            "When executing multiple SQL statements in a single call, only the last statement can have parameters."
          )
        }
        const cursor = this.#run<T>({ stmt, pointer, parameters, writes: analysis.writes }, last ? bindings : [])
        if (last) {
          result = cursor
          break
        }
      }
      if (result === undefined) throw new Error("SQL code did not contain a statement.")
      return result
    } finally {
      drain(statements)
    }
  }
}

/** Frees what an sql.js statement iterator still holds: preparing has no side effects. */
const drain = (statements: ReturnType<Database["iterateStatements"]>) => {
  try {
    while (!statements.next().done) {
      // each step frees the statement before it
    }
  } catch {
    // a failed prepare finalizes the iterator itself
  }
}

/** A fresh, empty in-memory database behind the Durable Object storage shape. Needs `ready`. */
export const makeSqlJsStorageSync = (): SqlJsStorage => new Store()

/** A fresh, empty in-memory database behind the Durable Object storage shape. */
export const makeSqlJsStorage = async (): Promise<SqlJsStorage> => {
  await ready
  return new Store()
}
