import { env, runInDurableObject } from "cloudflare:test"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { PoolRecord, PoolStore } from "../../src/internal/PoolStore.js"
import { migrate } from "../../src/internal/SqlitePoolStore.js"
import { storeContract } from "../support/storeContract.js"

const storeOn = (storage: DurableObjectStorage) => {
  migrate(storage)
  return { store: Effect.runSync(PoolStore.make(storage)), record: PoolRecord.make(storage) }
}

let serial = 0
// Each case runs inside a fresh Durable Object, on its SQLite storage.
storeContract("SQLite in workerd", (body) => {
  const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(`store-contract-${++serial}-${crypto.randomUUID()}`))
  return runInDurableObject(stub, (_instance, state) => body(storeOn(state.storage)))
})

/** The store over a storage whose `sql.exec` adds up the rows each statement read and wrote. */
const countingStorage = (storage: DurableObjectStorage) => {
  const counted = { rowsRead: 0, rowsWritten: 0 }
  const sql = new Proxy(storage.sql, {
    get: (target, property) => {
      if (property !== "exec") return Reflect.get(target, property)
      return (query: string, ...bindings: Array<SqlStorageValue>) => {
        const cursor = target.exec(query, ...bindings)
        const rows = cursor.toArray()
        counted.rowsRead += cursor.rowsRead
        counted.rowsWritten += cursor.rowsWritten
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
  return { ...storeOn(wrapped), counted }
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
const slot = (container: string, state: "warming" | "starting", sessionId: string | null) => ({
  container,
  state,
  sessionId
})

/** Rows read and written by each store step, on a pool holding `sessions` acquired slots, all due and expired. */
const costWith = (sessions: number) => {
  const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(`store-cost-${sessions}-${crypto.randomUUID()}`))
  return runInDurableObject(stub, async (_instance, state) => {
    const { counted, record, store } = countingStorage(state.storage)
    for (let i = 0; i < sessions; i++) {
      await run(store.reserve([slot(`c-${i}`, "starting", `s-${i}`)]))
      await run(store.bind(`c-${i}`, { expiresAt: 10, cachedUntil: 0 }, 0))
    }
    await run(store.reserve([slot("spare", "warming", null)]))
    await run(store.promote("spare", 0))
    const measure = async (effect: Effect.Effect<unknown, unknown>) => {
      counted.rowsRead = 0
      counted.rowsWritten = 0
      await run(effect)
      return { read: counted.rowsRead, written: counted.rowsWritten }
    }
    return {
      lease: await measure(store.lease("s-0")),
      renewLease: await measure(store.renewLease("s-0", "c-0", { expiresAt: 20, cachedUntil: 0 })),
      counts: await measure(store.counts),
      metrics: await measure(record.metrics),
      inspectPage: await measure(store.page("c-1", 8)),
      dueForCheck: await measure(store.dueForCheck(1_000, 8)),
      assignWarm: await measure(store.assignWarm("new", { expiresAt: 20, cachedUntil: 0 })),
      reserveRefill: await measure(store.reserve([slot("refill", "warming", null)])),
      recycle: await measure(store.recycle("c-1")),
      rejoinWarm: await measure(store.rejoinWarm("c-1", 2, 0)),
      markStopping: await measure(store.markStopping("c-2")),
      expireLease: await measure(store.expireLease("c-3", 1_000))
    }
  })
}

describe("SQLite store cost", () => {
  it("costs as many rows with 2,000 sessions as with 20: every step uses an index and a page", async () => {
    const small = await costWith(20)
    const large = await costWith(2_000)
    expect(large).toEqual(small)
    // A page of 8 due checks reads about 8 rows, not every due row.
    expect(large.dueForCheck.read).toBeLessThanOrEqual(9)
    expect(large.counts.read).toBe(1)
    // stats() metrics: the pool row alone. inspect: a page of 8 reads about 8 rows, in key order.
    expect(large.metrics.read).toBe(1)
    expect(large.inspectPage.read).toBeLessThanOrEqual(9)
  })

  it("writes at most 10 rows, index entries included, for a warm assignment and the refill it reserves", async () => {
    const { assignWarm, reserveRefill } = await costWith(5)
    expect(assignWarm.written + reserveRefill.written).toBeLessThanOrEqual(10)
    expect(assignWarm.written).toBeGreaterThan(0)
  })
})
