import { describe, expect, it } from "vitest"
import type { SqlJsStorage, StorageLike } from "../support/SqlJsStorage.js"
import { makeSqlJsStorage, makeSqlJsStorageSync, sqliteVersion } from "../support/SqlJsStorage.js"

// workerd's own storage has the shape the shim promises (checked by the type checker only).
const _realStorageFits = (storage: DurableObjectStorage): StorageLike => storage
void _realStorageFits

/** A fresh storage, closed after the body. */
const withStorage = <A>(body: (storage: SqlJsStorage) => A): A => {
  const storage = makeSqlJsStorageSync()
  try {
    return body(storage)
  } finally {
    storage.close()
  }
}

const count = (storage: SqlJsStorage, table: string) =>
  storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n

describe("SqlJsStorage", () => {
  it("bundles a SQLite recent enough for UPSERT, RETURNING and the rest (3.35+)", () => {
    const [major, minor] = sqliteVersion.split(".").map(Number)
    expect(major! * 1000 + minor!).toBeGreaterThanOrEqual(3035)
  })

  it("opens asynchronously too, each storage on its own database", async () => {
    const a = await makeSqlJsStorage()
    const b = await makeSqlJsStorage()
    a.sql.exec("CREATE TABLE t (x INTEGER)")
    expect(() => b.sql.exec("SELECT x FROM t")).toThrow(/no such table: t/)
    a.close()
    b.close()
  })

  it("round-trips a table: integers, reals, text, NULL and blobs, as plain objects", () =>
    withStorage((storage) => {
      const { sql } = storage
      sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB)")
      sql.exec("INSERT INTO t (id, n, r, s, b) VALUES (?, ?, ?, ?, ?)", 1, 1_700_000_000_000, 0.25, "x", null)
      sql.exec("INSERT INTO t (id, n, r, s, b) VALUES (?, ?, ?, ?, ?)", 2, -7, 1e300, "", new Uint8Array([0, 1, 255]).buffer)
      const rows = sql.exec("SELECT id, n, r, s, b FROM t ORDER BY id").toArray()
      expect(rows[0]).toEqual({ id: 1, n: 1_700_000_000_000, r: 0.25, s: "x", b: null })
      expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype)
      const blob = rows[1]!.b
      expect(blob).toBeInstanceOf(ArrayBuffer)
      expect([...new Uint8Array(blob as ArrayBuffer)]).toEqual([0, 1, 255])
      expect(rows[1]).toMatchObject({ id: 2, n: -7, r: 1e300, s: "" })
      // Integer columns hold integers even though every JS number is bound as a REAL.
      expect(sql.exec("SELECT typeof(n) AS t FROM t WHERE id = 1").one()).toEqual({ t: "integer" })
    }))

  it("binds every number as a REAL, as workerd does", () =>
    withStorage(({ sql }) => {
      expect(sql.exec("SELECT ? / 2 AS half, typeof(?) AS type", 5, 5).one()).toEqual({ half: 2.5, type: "real" })
      sql.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)")
      sql.exec("INSERT INTO kv VALUES ('a', ?)", 5)
      expect(sql.exec("SELECT v FROM kv").one().v).toBe("5.0")
      expect(sql.exec("SELECT 9007199254740993 AS big").one().big).toBe(9007199254740992)
    }))

  it("checks bindings: their number, and their types", () =>
    withStorage(({ sql }) => {
      expect(() => sql.exec("SELECT ? AS a, ? AS b", 1)).toThrow("Wrong number of parameter bindings for SQL query.")
      expect(() => sql.exec("SELECT 1 AS a", 1)).toThrow("Wrong number of parameter bindings for SQL query.")
      expect(() => sql.exec("SELECT ?1 AS a, ?1 AS b", 1)).not.toThrow()
      expect(() => sql.exec("SELECT ? AS a", true as unknown as number)).toThrow(TypeError)
      expect(() => sql.exec("SELECT ? AS a", 1n as unknown as number)).toThrow(TypeError)
      // The statement is still usable after a refused binding.
      expect(sql.exec("SELECT ? AS a", "ok").one()).toEqual({ a: "ok" })
    }))

  it("counts rowsWritten per statement (table rows only), and 0 for reads and DDL", () =>
    withStorage(({ sql }) => {
      const created = sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
      expect(created.rowsWritten).toBe(0)
      sql.exec("CREATE INDEX t_by_v ON t (v)")
      expect(sql.exec("INSERT INTO t VALUES ('a', 1), ('b', 1), ('c', 2)").rowsWritten).toBe(3)
      expect(sql.exec("UPDATE t SET v = v + 10 WHERE v = ?", 1).rowsWritten).toBe(2)
      // SQLite's changes() still says 2 here: a read must not report it.
      const read = sql.exec("SELECT k FROM t")
      expect(read.rowsWritten).toBe(0)
      expect(read.rowsRead).toBe(0)
      expect(sql.exec("UPDATE t SET v = 0 WHERE k = 'zz'").rowsWritten).toBe(0)
      expect(sql.exec("INSERT OR IGNORE INTO t VALUES ('a', 5)").rowsWritten).toBe(0)
      expect(sql.exec("INSERT INTO t VALUES ('a', 5) ON CONFLICT (k) DO NOTHING").rowsWritten).toBe(0)
      expect(sql.exec("INSERT INTO t VALUES ('a', 5) ON CONFLICT (k) DO UPDATE SET v = excluded.v").rowsWritten).toBe(1)
      expect(sql.exec("WITH doomed AS (SELECT 'b' AS k) DELETE FROM t WHERE k IN (SELECT k FROM doomed)").rowsWritten)
        .toBe(1)
      expect(sql.exec("WITH x AS (SELECT 1) SELECT * FROM x").rowsWritten).toBe(0)
      const returned = sql.exec("INSERT INTO t VALUES ('r', 7), ('s', 8) RETURNING k")
      expect(returned.rowsWritten).toBe(2)
      expect(returned.toArray()).toEqual([{ k: "r" }, { k: "s" }])
      expect(sql.exec("DELETE FROM t").rowsWritten).toBe(4)
    }))

  it("enforces foreign keys, which workerd turns on by default", () =>
    withStorage(({ sql }) => {
      sql.exec("CREATE TABLE parent (id TEXT PRIMARY KEY)")
      sql.exec("CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT NOT NULL REFERENCES parent (id))")
      expect(() => sql.exec("INSERT INTO child VALUES ('c', 'nobody')")).toThrow(/FOREIGN KEY constraint failed/)
    }))

  it("reuses cached statements without mixing up their results, and survives evicting them", () =>
    withStorage(({ sql }) => {
      const query = "SELECT ? AS n"
      const first = sql.exec(query, 1)
      const second = sql.exec(query, 2)
      expect(first.one()).toEqual({ n: 1 })
      expect(second.one()).toEqual({ n: 2 })
      for (let i = 0; i < 1_100; i++) expect(sql.exec(`SELECT ${i} AS n`).one()).toEqual({ n: i })
      expect(sql.exec("SELECT 0 AS n").one()).toEqual({ n: 0 })
      expect(sql.exec(query, 3).one()).toEqual({ n: 3 })
    }))

  it("one() wants exactly one row, with workerd's messages", () =>
    withStorage(({ sql }) => {
      sql.exec("CREATE TABLE t (x INTEGER)")
      expect(() => sql.exec("SELECT x FROM t").one()).toThrow(
        "Expected exactly one result from SQL query, but got no results."
      )
      sql.exec("INSERT INTO t VALUES (1), (2)")
      expect(() => sql.exec("SELECT x FROM t").one()).toThrow(
        "Expected exactly one result from SQL query, but got multiple results."
      )
      expect(sql.exec("SELECT x FROM t WHERE x = 2").one()).toEqual({ x: 2 })
    }))

  it("consumes a cursor as it is read, like workerd's", () =>
    withStorage(({ sql }) => {
      sql.exec("CREATE TABLE t (x INTEGER)")
      sql.exec("INSERT INTO t VALUES (1), (2), (3)")
      const cursor = sql.exec<{ x: number }>("SELECT x FROM t ORDER BY x")
      expect(cursor.columnNames).toEqual(["x"])
      expect(cursor.next()).toEqual({ value: { x: 1 } })
      expect([...cursor.raw()]).toEqual([[2], [3]])
      expect(cursor.toArray()).toEqual([])
      expect(cursor.next()).toEqual({ done: true })
      expect([...sql.exec<{ x: number }>("SELECT x FROM t ORDER BY x")].map((r) => r.x)).toEqual([1, 2, 3])
      expect(sql.exec("UPDATE t SET x = x").columnNames).toEqual([])
    }))

  it("throws real Errors carrying SQLite's message", () =>
    withStorage(({ sql }) => {
      const thrown = (f: () => unknown): Error => {
        try {
          f()
        } catch (error) {
          return error as Error
        }
        throw new Error("did not throw")
      }
      const syntax = thrown(() => sql.exec("SELEC 1"))
      expect(syntax).toBeInstanceOf(Error)
      expect(syntax.message).toMatch(/near "SELEC": syntax error: SQLITE_ERROR/)
      expect(thrown(() => sql.exec("SELECT * FROM missing")).message).toMatch(/no such table: missing/)
      sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0))")
      sql.exec("INSERT INTO t VALUES ('a', 1)")
      const unique = thrown(() => sql.exec("INSERT INTO t VALUES ('a', 2)"))
      expect(unique).toBeInstanceOf(Error)
      expect(unique.message).toBe(
        "UNIQUE constraint failed: t.k: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_PRIMARYKEY)"
      )
      expect(thrown(() => sql.exec("UPDATE t SET n = -1")).message).toMatch(/CHECK constraint failed/)
      expect(() => sql.exec("   -- nothing\n")).toThrow("SQL code did not contain a statement.")
      // A failed statement leaves its cached copy usable.
      expect(sql.exec("INSERT INTO t VALUES (?, 2)", "b").rowsWritten).toBe(1)
      expect(() => sql.exec("INSERT INTO t VALUES (?, 2)", "b")).toThrow(/UNIQUE/)
      expect(sql.exec("INSERT INTO t VALUES (?, 2)", "c").rowsWritten).toBe(1)
    }))

  it("refuses what workerd's authorizer refuses", () =>
    withStorage(({ sql }) => {
      for (const statement of ["BEGIN", "BEGIN TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT s", "RELEASE s"]) {
        expect(() => sql.exec(statement)).toThrow(/please use the state.storage.transaction\(\)/)
      }
      expect(() => sql.exec("PRAGMA journal_mode = WAL")).toThrow("not authorized: SQLITE_AUTH")
      expect(() => sql.exec("PRAGMA page_size = 1024")).toThrow("not authorized: SQLITE_AUTH")
      expect(() => sql.exec("ATTACH ':memory:' AS other")).toThrow("not authorized: SQLITE_AUTH")
      expect(() => sql.exec("CREATE TEMP TABLE t (x)")).toThrow("not authorized: SQLITE_AUTH")
      expect(sql.exec("PRAGMA foreign_keys").one()).toEqual({ foreign_keys: 1 })
      expect(sql.exec("PRAGMA page_size").one().page_size).toBeGreaterThan(0)
    }))

  it("runs every statement of a multi-statement query and returns the last one's cursor", () =>
    withStorage(({ sql }) => {
      const cursor = sql.exec(
        "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); SELECT sum(x) + ? AS s FROM t;",
        10
      )
      expect(cursor.one()).toEqual({ s: 13 })
      expect(() => sql.exec("SELECT ? AS a; SELECT 1 AS b", 1)).toThrow(
        "When executing multiple SQL statements in a single call, only the last statement can have parameters."
      )
      // A statement, then only a comment: one statement.
      expect(sql.exec("SELECT 7 AS n; -- done").one()).toEqual({ n: 7 })
      // A semicolon inside a trigger body or a string does not split a statement.
      sql.exec("CREATE TABLE log (m TEXT)")
      sql.exec("CREATE TRIGGER t_logged AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('a;b'); END")
      sql.exec("INSERT INTO t VALUES (3)")
      expect(sql.exec("SELECT m FROM log").one()).toEqual({ m: "a;b" })
      // Run again: the multi-statement query is not cached as one statement.
      expect(sql.exec("INSERT INTO t VALUES (4); SELECT count(*) AS n FROM t").one()).toEqual({ n: 4 })
      expect(sql.exec("INSERT INTO t VALUES (4); SELECT count(*) AS n FROM t").one()).toEqual({ n: 5 })
    }))

  it("commits transactionSync, and rolls back and rethrows on a throw", () =>
    withStorage((storage) => {
      const { sql } = storage
      sql.exec("CREATE TABLE t (x INTEGER)")
      expect(storage.transactionSync(() => sql.exec("INSERT INTO t VALUES (1)").rowsWritten)).toBe(1)
      expect(count(storage, "t")).toBe(1)

      const failure = new Error("boom")
      expect(() =>
        storage.transactionSync(() => {
          sql.exec("INSERT INTO t VALUES (2)")
          sql.exec("DELETE FROM t WHERE x = 1")
          throw failure
        })
      ).toThrow(failure)
      expect(sql.exec("SELECT x FROM t").toArray()).toEqual([{ x: 1 }])

      // A SQL error inside rolls back the statements before it too.
      expect(() =>
        storage.transactionSync(() => {
          sql.exec("INSERT INTO t VALUES (3)")
          sql.exec("INSERT INTO nowhere VALUES (1)")
        })
      ).toThrow(/no such table/)
      expect(sql.exec("SELECT x FROM t").toArray()).toEqual([{ x: 1 }])

      // And the storage goes on working, in and out of transactions.
      storage.transactionSync(() => sql.exec("INSERT INTO t VALUES (4)"))
      sql.exec("INSERT INTO t VALUES (5)")
      expect(count(storage, "t")).toBe(3)
    }))

  it("nests transactionSync with savepoints", () =>
    withStorage((storage) => {
      const { sql } = storage
      sql.exec("CREATE TABLE t (x INTEGER)")
      storage.transactionSync(() => {
        sql.exec("INSERT INTO t VALUES (1)")
        // An inner failure that is caught undoes only the inner work.
        expect(() =>
          storage.transactionSync(() => {
            sql.exec("INSERT INTO t VALUES (2)")
            throw new Error("inner")
          })
        ).toThrow("inner")
        storage.transactionSync(() => {
          sql.exec("INSERT INTO t VALUES (3)")
          storage.transactionSync(() => sql.exec("INSERT INTO t VALUES (4)"))
        })
      })
      expect([...sql.exec("SELECT x FROM t ORDER BY x").raw()]).toEqual([[1], [3], [4]])

      // An outer failure undoes inner work that had succeeded.
      expect(() =>
        storage.transactionSync(() => {
          storage.transactionSync(() => sql.exec("INSERT INTO t VALUES (5)"))
          throw new Error("outer")
        })
      ).toThrow("outer")
      expect(count(storage, "t")).toBe(3)
    }))

  it("keeps a count with triggers, on WITHOUT ROWID tables, as the pool store does", () =>
    withStorage((storage) => {
      const { sql } = storage
      const schema = [
        `CREATE TABLE IF NOT EXISTS slots (
          container TEXT PRIMARY KEY,
          state TEXT NOT NULL CHECK (state IN ('warm', 'acquired')),
          check_due_at INTEGER NOT NULL
        ) WITHOUT ROWID`,
        `CREATE TABLE IF NOT EXISTS counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID`,
        `INSERT OR IGNORE INTO counts (key, n) VALUES ('warm', 0), ('acquired', 0)`,
        `CREATE TRIGGER IF NOT EXISTS slots_inserted AFTER INSERT ON slots BEGIN
          UPDATE counts SET n = n + 1 WHERE key = NEW.state;
        END`,
        `CREATE TRIGGER IF NOT EXISTS slots_deleted AFTER DELETE ON slots BEGIN
          UPDATE counts SET n = n - 1 WHERE key = OLD.state;
        END`,
        `CREATE TRIGGER IF NOT EXISTS slots_moved AFTER UPDATE OF state ON slots
          WHEN OLD.state <> NEW.state BEGIN
          UPDATE counts SET n = n - 1 WHERE key = OLD.state;
          UPDATE counts SET n = n + 1 WHERE key = NEW.state;
        END`
      ]
      // Idempotent, as a store's start-up is.
      for (let i = 0; i < 2; i++) storage.transactionSync(() => schema.forEach((s) => sql.exec(s)))
      const counts = () =>
        Object.fromEntries(sql.exec<{ key: string; n: number }>("SELECT key, n FROM counts").toArray().map((r) => [r.key, r.n]))

      storage.transactionSync(() => {
        for (const c of ["a", "b", "c"]) sql.exec("INSERT INTO slots VALUES (?, 'warm', 0)", c)
      })
      expect(counts()).toEqual({ warm: 3, acquired: 0 })
      // The trigger's own writes are not the statement's rowsWritten.
      expect(sql.exec("UPDATE slots SET state = 'acquired' WHERE container = ?", "a").rowsWritten).toBe(1)
      expect(sql.exec("UPDATE slots SET state = 'acquired' WHERE container = ?", "a").rowsWritten).toBe(1)
      expect(counts()).toEqual({ warm: 2, acquired: 1 })
      sql.exec("DELETE FROM slots WHERE container = 'b'")
      expect(counts()).toEqual({ warm: 1, acquired: 1 })

      // INSERT OR REPLACE of an existing row fires the insert trigger but not the delete one
      // (recursive triggers are off, as in workerd), so the count drifts: SQLite's behaviour.
      sql.exec("INSERT OR REPLACE INTO slots VALUES ('c', 'warm', 5)")
      expect(counts()).toEqual({ warm: 2, acquired: 1 })
      expect(sql.exec("SELECT count(*) AS n FROM slots").one().n).toBe(2)

      // A rolled-back transaction takes the trigger's writes with it.
      expect(() =>
        storage.transactionSync(() => {
          sql.exec("DELETE FROM slots")
          throw new Error("undo")
        })
      ).toThrow("undo")
      expect(counts()).toEqual({ warm: 2, acquired: 1 })
    }))

  it("uses a partial index through INDEXED BY, and says when it cannot", () =>
    withStorage(({ sql }) => {
      sql.exec(`CREATE TABLE slots (container TEXT PRIMARY KEY, state TEXT NOT NULL, due INTEGER NOT NULL) WITHOUT ROWID`)
      sql.exec(`CREATE INDEX checkable ON slots (due) WHERE state IN ('warm', 'acquired')`)
      for (let i = 0; i < 50; i++) {
        sql.exec("INSERT INTO slots VALUES (?, ?, ?)", `c${i}`, ["warm", "acquired", "stopping"][i % 3]!, 100 - i)
      }
      const query = `SELECT container, due FROM slots INDEXED BY checkable
        WHERE state IN ('warm', 'acquired') AND due <= ? ORDER BY due LIMIT 3`
      expect(sql.exec(query, 60).toArray()).toEqual([
        { container: "c49", due: 51 },
        { container: "c48", due: 52 },
        { container: "c46", due: 54 }
      ])
      const plan = sql.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`, 60).toArray().map((r) => r.detail)
      expect(plan.join("\n")).toMatch(/USING (COVERING )?INDEX checkable/)
      // Without the index's condition the partial index cannot serve: SQLite refuses the plan.
      expect(() => sql.exec("SELECT container FROM slots INDEXED BY checkable WHERE due <= 60")).toThrow(
        /no query solution/
      )
    }))

  it("supports UPSERT, INSERT OR REPLACE, max() as a scalar, PRAGMA table_info and ALTER TABLE", () =>
    withStorage(({ sql }) => {
      sql.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
      sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('config', ?)", "one")
      sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('config', ?)", "two")
      expect(sql.exec("SELECT value FROM meta WHERE key = 'config'").one()).toEqual({ value: "two" })

      sql.exec("CREATE TABLE leases (session TEXT PRIMARY KEY, expires INTEGER NOT NULL)")
      const extend = `INSERT INTO leases (session, expires) VALUES (?, ?)
        ON CONFLICT (session) DO UPDATE SET expires = max(expires, excluded.expires)`
      sql.exec(extend, "s", 100)
      sql.exec(extend, "s", 50)
      expect(sql.exec("SELECT expires FROM leases").one()).toEqual({ expires: 100 })
      sql.exec(extend, "s", 150)
      expect(sql.exec("SELECT expires FROM leases").one()).toEqual({ expires: 150 })

      const columns = () => sql.exec<{ name: string }>("PRAGMA table_info(leases)").toArray().map((c) => c.name)
      expect(columns()).toEqual(["session", "expires"])
      // A cached `SELECT *` sees a column added after it was first prepared.
      expect(sql.exec("SELECT * FROM leases").one()).toEqual({ session: "s", expires: 150 })
      sql.exec("ALTER TABLE leases ADD COLUMN cached_until INTEGER NOT NULL DEFAULT 0")
      expect(columns()).toEqual(["session", "expires", "cached_until"])
      expect(sql.exec("SELECT * FROM leases").one()).toEqual({ session: "s", expires: 150, cached_until: 0 })
    }))

  it("round-trips unicode text, NUL included", () =>
    withStorage(({ sql }) => {
      sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
      const values = ["héllo wörld", "日本語のテキスト", "emoji 🎉👩‍💻", "עברית ومرحبا", "\u00e9 vs e\u0301", "tab\there\nnewline"]
      values.forEach((v, i) => sql.exec("INSERT INTO t VALUES (?, ?)", `k${i}-${v}`, v))
      values.forEach((v, i) => {
        expect(sql.exec("SELECT v, length(v) AS chars FROM t WHERE k = ?", `k${i}-${v}`).one()).toEqual({
          v,
          chars: [...v].length
        })
      })
      expect(sql.exec("SELECT ? AS echo", "🎉").one().echo).toBe("🎉")
      // sql.js binds strings with their length, so even an embedded NUL survives.
      expect(sql.exec("SELECT ? AS echo", "a\0b").one().echo).toBe("a\0b")
    }))

  it("reports the database size and refuses use after close", () => {
    const storage = makeSqlJsStorageSync()
    storage.sql.exec("CREATE TABLE t (x)")
    expect(storage.sql.databaseSize).toBeGreaterThan(0)
    storage.close()
    expect(() => storage.sql.exec("SELECT 1")).toThrow(/closed/)
    expect(() => storage.transactionSync(() => 1)).toThrow(/closed/)
    storage.close()
  })

  it("micro-benchmark: ~20,000 simple statements (printed, not asserted)", () =>
    withStorage((storage) => {
      const { sql } = storage
      sql.exec("CREATE TABLE slots (container TEXT PRIMARY KEY, state TEXT NOT NULL, due INTEGER NOT NULL) WITHOUT ROWID")
      const rows = 100
      storage.transactionSync(() => {
        for (let i = 0; i < rows; i++) sql.exec("INSERT INTO slots VALUES (?, 'warm', ?)", `c${i}`, i)
      })
      const update = (i: number) =>
        sql.exec("UPDATE slots SET due = ? WHERE container = ?", i, `c${i % rows}`).rowsWritten
      const select = (i: number) =>
        sql.exec<{ state: string; due: number }>("SELECT state, due FROM slots WHERE container = ?", `c${i % rows}`).one()
      const pair = (i: number) => {
        update(i)
        return select(i).due
      }
      const modes: Record<string, (loop: (body: (i: number) => void) => void) => void> = {
        "autocommit": (loop) => loop(pair),
        "one transactionSync per UPDATE + SELECT": (loop) => loop((i) => storage.transactionSync(() => pair(i))),
        "all in one transactionSync": (loop) => storage.transactionSync(() => loop(pair))
      }
      const pairs = 10_000
      const time = (mode: (loop: (body: (i: number) => void) => void) => void, n: number) => {
        const start = performance.now()
        mode((body) => {
          for (let i = 0; i < n; i++) body(i)
        })
        return performance.now() - start
      }
      // Warm up first: V8 tiers the wasm up in the background, so cold runs are several times slower.
      for (const mode of Object.values(modes)) time(mode, 2_000)
      for (const [label, mode] of Object.entries(modes)) {
        const ms = Math.min(time(mode, pairs), time(mode, pairs), time(mode, pairs))
        console.log(
          `[SqlJsStorage] ${label}: ${2 * pairs} statements in ${ms.toFixed(0)} ms, ` +
            `${((ms * 1000) / (2 * pairs)).toFixed(1)} µs per statement (best of 3)`
        )
      }
      expect(pair(pairs - 1)).toBe(pairs - 1)
    }))
})
