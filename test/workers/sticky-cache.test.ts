/**
 * The client's sticky cache against the real pool: zero round trips for sticky calls, lazy
 * renewal, and above all no cached entry ever reaching a container leased to another id.
 * "Isolates" are handles with separate caches over the same pool Durable Object.
 */
import { env, runInDurableObject } from "cloudflare:test"
import type { WarmPoolOptions } from "cf-container-warm-pool"
import { createWarmPool, StickyCache } from "cf-container-warm-pool"
import { describe, expect, it } from "vitest"
import { countingNamespace } from "../support/countingNamespace.js"
import { stateOf } from "./helpers.js"

let serial = 0

/** One pool; `isolate()` makes a handle with its own cache and its own RPC counter. */
const poolFor = (options: WarmPoolOptions) => {
  const config = { name: `sticky-${++serial}-${crypto.randomUUID()}`, ...options }
  const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(config.name))
  const isolate = (overrides: WarmPoolOptions = {}, cache = StickyCache.make()) => {
    const rpc = countingNamespace(env.WARM_POOL)
    const pool = createWarmPool(rpc.namespace, env.CONTAINER, { ...config, ...overrides }, cache)
    return { pool, rpc }
  }
  const lease = (sessionId: string) =>
    runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec<{ container: string; expires_at: number; cached_until: number }>(
        `SELECT container, expires_at, cached_until FROM wp_slots WHERE state = 'acquired' AND session_id = ?`,
        sessionId
      ).toArray()[0]
    )
  return { isolate, lease, settled: () => stub.settled() }
}

describe("sticky cache", () => {
  it("serves a sticky getContainer with no pool round trip", async () => {
    const { isolate, lease } = poolFor({ minContainers: 0 })
    const cache = StickyCache.make()
    const { pool, rpc } = isolate({}, cache)
    const first = await pool.getContainer("a")
    expect(rpc.count()).toBe(1)
    for (let i = 0; i < 20; i++) expect((await pool.getContainer("a")).id.toString()).toBe(first.id.toString())
    expect(rpc.count()).toBe(1)
    expect((await first.fetch("http://c/")).status).toBe(200)
    expect((await lease("a"))?.cached_until).toBeGreaterThan(Date.now())
    expect(cache.stats()).toEqual({ size: 1, hits: 20, misses: 1, renewals: 0 })
  })

  it("a release through another isolate never lets this isolate's cache reach another id's container", async () => {
    // One container at most, and a short warm set: without the guard, the release would put
    // a's container back in the warm set and b would get it, while x still maps a to it.
    const { isolate, settled } = poolFor({ minContainers: 1, maxContainers: 1 })
    const x = isolate()
    const y = isolate()
    const cachedByX = await x.pool.getContainer("a")
    expect(await y.pool.releaseContainer("a")).toEqual({ released: true, outcome: "stopped" })
    await settled()
    const forB = await y.pool.getContainer("b")
    expect(forB.id.toString()).not.toBe(cachedByX.id.toString())
    const stale = await x.pool.getContainer("a")
    expect(stale.id.toString()).toBe(cachedByX.id.toString())
    expect(stale.id.toString()).not.toBe(forB.id.toString())
    expect(stateOf(stale)?.status).toBe("stopped")
    expect((await stale.fetch("http://c/")).status).toBe(503)
  })

  it("the same release hands the container to the next id when no client caches (the guard matters)", async () => {
    const { isolate, settled } = poolFor({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
    const x = isolate()
    const y = isolate()
    const a = await x.pool.getContainer("a")
    expect(await y.pool.releaseContainer("a")).toEqual({ released: true, outcome: "warm" })
    await settled()
    expect((await y.pool.getContainer("b")).id.toString()).toBe(a.id.toString())
  })

  it("a release through the client evicts its own entry", async () => {
    const { isolate } = poolFor({ minContainers: 0 })
    const { pool, rpc } = isolate()
    const a = await pool.getContainer("a")
    await pool.releaseContainer("a")
    rpc.reset()
    const again = await pool.getContainer("a")
    expect(rpc.count("getContainer")).toBe(1)
    expect(again.id.toString()).not.toBe(a.id.toString())
  })

  it("renews the lease in the background once per half grant, and only then", async () => {
    const acquireTimeout = 8_000 // grant 4 s, renewal due after 2 s: room for a loaded machine's slow calls
    const { isolate, lease } = poolFor({ minContainers: 0, acquireTimeout })
    const { pool, rpc } = isolate()
    await pool.warmup(1) // so the first getContainer is a quick warm hit, well inside the grant
    rpc.reset()
    await pool.getContainer("a")
    const before = await lease("a")
    await pool.getContainer("a")
    expect(rpc.count("renewLease")).toBe(0)
    await scheduler.wait(2_100) // let the clock pass the renewal point
    await pool.getContainer("a")
    await pool.getContainer("a")
    expect(rpc.count("renewLease")).toBe(1)
    await rpc.settled()
    const after = await lease("a")
    expect(after!.container).toBe(before!.container)
    expect(after!.expires_at).toBeGreaterThan(before!.expires_at)
    expect(after!.cached_until).toBeGreaterThan(before!.cached_until)
    // The renewal refreshed the entry: still no synchronous call.
    await pool.getContainer("a")
    expect(rpc.count()).toBe(2)
  })

  it("a renewal that finds the lease gone evicts the entry, and the next call asks the pool", async () => {
    // Grant 4 s, renewal after 2 s: a wide window, so a loaded machine's slow calls still land inside the grant.
    const { isolate } = poolFor({ minContainers: 0, acquireTimeout: 8_000 })
    const x = isolate()
    const y = isolate()
    await x.pool.warmup(1) // so the first getContainer is a quick warm hit, well inside the grant
    const a = await x.pool.getContainer("a")
    await y.pool.releaseContainer("a")
    await scheduler.wait(2_100) // past the renewal point, inside the grant
    expect((await x.pool.getContainer("a")).id.toString()).toBe(a.id.toString()) // stale, renewing
    await x.rpc.settled()
    x.rpc.reset()
    const fresh = await x.pool.getContainer("a")
    expect(x.rpc.count("getContainer")).toBe(1)
    expect(fresh.id.toString()).not.toBe(a.id.toString())
  })

  it("entries lapse after half a lease, and are bounded in number (LRU)", async () => {
    const { isolate } = poolFor({ minContainers: 0, acquireTimeout: 100, stickyCacheSize: 2 })
    const { pool, rpc } = isolate()
    await pool.getContainer("a")
    await scheduler.wait(60) // past the 50 ms grant
    await pool.getContainer("a")
    expect(rpc.count("getContainer")).toBe(2)
    const { isolate: other } = poolFor({ minContainers: 0, stickyCacheSize: 2 })
    const small = other()
    for (const id of ["a", "b", "c", "a"]) await small.pool.getContainer(id)
    expect(small.rpc.count("getContainer")).toBe(4) // a was evicted by c
    for (const id of ["c", "a"]) await small.pool.getContainer(id)
    expect(small.rpc.count("getContainer")).toBe(4)
  })

  it("stickyCacheTtl bounds an entry's life even when leases are long", async () => {
    const { isolate } = poolFor({ minContainers: 0, acquireTimeout: 600_000, stickyCacheTtl: 60 })
    const { pool, rpc } = isolate()
    await pool.getContainer("a")
    expect(rpc.count("getContainer")).toBe(1)
    await scheduler.wait(80) // past the 60 ms grant, far inside the 10-minute lease's half
    await pool.getContainer("a")
    expect(rpc.count("getContainer")).toBe(2)
  })

  it("can be turned off", async () => {
    const { isolate, lease } = poolFor({ minContainers: 0, stickyCacheSize: 0 })
    const { pool, rpc } = isolate()
    await pool.getContainer("a")
    await pool.getContainer("a")
    expect(rpc.count("getContainer")).toBe(2)
    expect((await lease("a"))?.cached_until).toBe(0)
  })

  it("handles made in one isolate share its cache", async () => {
    const name = `shared-${crypto.randomUUID()}`
    const rpc = countingNamespace(env.WARM_POOL)
    await createWarmPool(rpc.namespace, env.CONTAINER, { name, minContainers: 0 }).getContainer("a")
    await createWarmPool(rpc.namespace, env.CONTAINER, { name, minContainers: 0 }).getContainer("a")
    expect(rpc.count()).toBe(1)
  })
})
