import { env, runInDurableObject } from "cloudflare:test"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeSqliteStore } from "../../src/SqlitePoolStore.js"
import { storeContract } from "../support/storeContract.js"

let serial = 0
// Each case runs inside a fresh Durable Object, on its SQLite storage.
storeContract("SQLite", (body) => {
  const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(`store-contract-${++serial}-${crypto.randomUUID()}`))
  return runInDurableObject(stub, (_instance, state) => body(makeSqliteStore(state.storage)))
})

/** The store over a storage whose `sql.exec` adds up the rows each statement read. */
const countingStorage = (storage: DurableObjectStorage) => {
  const counted = { rowsRead: 0 }
  const sql = new Proxy(storage.sql, {
    get: (target, property) => {
      if (property !== "exec") return Reflect.get(target, property)
      return (query: string, ...bindings: Array<SqlStorageValue>) => {
        const cursor = target.exec(query, ...bindings)
        const rows = cursor.toArray()
        counted.rowsRead += cursor.rowsRead
        // Hand back a cursor over the rows already read.
        return Object.assign(rows.values(), {
          toArray: () => rows,
          one: () => rows[0],
          rowsRead: cursor.rowsRead,
          rowsWritten: cursor.rowsWritten
        })
      }
    }
  })
  const wrapped = new Proxy(storage, {
    get: (target, property) => {
      if (property === "sql") return sql
      const value = Reflect.get(target, property)
      return typeof value === "function" ? value.bind(target) : value
    }
  })
  return { store: makeSqliteStore(wrapped), counted }
}

describe("SQLite store cost", () => {
  const run = <A>(effect: Effect.Effect<A>) => Effect.runPromise(effect)

  /** Rows read by each operation, on a pool holding `sessions` acquired slots, all due for checks and expired. */
  const rowsReadWith = (sessions: number) => {
    const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(`store-cost-${sessions}-${crypto.randomUUID()}`))
    return runInDurableObject(stub, async (_instance, state) => {
      const { counted, store } = countingStorage(state.storage)
      let serial = 0
      const names = await run(store.reserve({
        state: "starting",
        sessionId: null,
        howMany: () => sessions + 1,
        newName: () => `c-${serial++}`,
        checkDueAt: 0
      }))
      for (const [i, name] of names.slice(0, sessions).entries()) {
        await run(store.bind(name, `s-${i}`, { expiresAt: 10, cachedUntil: 0 }))
      }
      await run(store.promote(names[sessions]!, 0))
      const measure = async (effect: Effect.Effect<unknown>) => {
        counted.rowsRead = 0
        await run(effect)
        return counted.rowsRead
      }
      return {
        lease: await measure(store.lease("s-0")),
        renewLease: await measure(store.renewLease("s-0", "c-0", { expiresAt: 20, cachedUntil: 0 })),
        counts: await measure(store.counts),
        dueForCheck: await measure(store.dueForCheck(1_000, 8)),
        assignWarm: await measure(store.assignWarm("new", { expiresAt: 20, cachedUntil: 0 })),
        release: await measure(store.release("new", () => "stopped", 0)),
        expireLeases: await measure(store.expireLeases(1_000, 8))
      }
    })
  }

  it("reads as many rows with 2,000 sessions as with 20: every step uses an index and a page", async () => {
    const small = await rowsReadWith(20)
    const large = await rowsReadWith(2_000)
    expect(large).toEqual(small)
    // A page of 8 due checks reads about 8 rows, not every due row.
    expect(large.dueForCheck).toBeLessThanOrEqual(9)
    expect(large.counts).toBeLessThanOrEqual(8)
  })
})

describe("SQLite store upgrades", () => {
  it("adds columns that a pool database created by an earlier version lacks", async () => {
    const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(`store-upgrade-${crypto.randomUUID()}`))
    const columns = await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec(
        `CREATE TABLE wp_leases (session_id TEXT PRIMARY KEY, container TEXT NOT NULL UNIQUE, expires_at INTEGER NOT NULL) WITHOUT ROWID`
      )
      state.storage.sql.exec(`INSERT INTO wp_leases VALUES ('old-session', 'old-container', 123)`)
      state.storage.sql.exec(
        `CREATE TABLE wp_slots (container TEXT PRIMARY KEY, state TEXT NOT NULL, session_id TEXT, check_due_at INTEGER NOT NULL) WITHOUT ROWID`
      )
      state.storage.sql.exec(`INSERT INTO wp_slots VALUES ('old-container', 'acquired', 'old-session', 0)`)
      const store = makeSqliteStore(state.storage)
      return Effect.runPromise(Effect.all({
        lease: store.lease("old-session"),
        slot: store.slot("old-container"),
        byObjectId: store.containerByObjectId("anything")
      }))
    })
    expect(columns).toEqual({
      lease: { sessionId: "old-session", container: "old-container", expiresAt: 123, cachedUntil: 0 },
      slot: { container: "old-container", state: "acquired", sessionId: "old-session", checkDueAt: 0 },
      byObjectId: undefined
    })
  })
})
