/**
 * End to end: the example Worker and the pool against real containers in a real Docker engine,
 * with `docker ps` as the witness.
 */
import { env as testEnv, runInDurableObject, SELF } from "cloudflare:test"
import type { WarmPool, WarmPoolHandle, WarmPoolOptions } from "cf-container-warm-pool"
import { createWarmPool, fencedReason, PooledContainer, PoolExhausted } from "cf-container-warm-pool"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import type { Env, SessionContainer } from "../../example/src/index.js"
import type { TickReport } from "../../src/internal/Maintenance.js"
import { testHooks } from "../../src/internal/testHooks.js"
import type { ContainerRow } from "./docker.js"

const env = testEnv as unknown as Env & { DOCKER: Fetcher }

interface ContainerInfo {
  readonly hostname: string
  readonly startedAt: number
  readonly requests: number
}

const docker = {
  ps: async (): Promise<ReadonlyArray<ContainerRow>> => (await env.DOCKER.fetch("http://docker/ps")).json(),
  kill: (id: string) => env.DOCKER.fetch(`http://docker/kill?id=${id}`, { method: "POST" })
}

/** Docker names workerd's containers after the container Durable Object's id, which is the pool's name for it. */
const dockerIdOf = (containerName: string) => env.CONTAINER.idFromString(containerName).toString()
const running = async (doIds: Iterable<string>) => {
  const wanted = [...doIds]
  return (await docker.ps()).filter((row) => row.state === "running" && wanted.some((id) => row.name.endsWith(id)))
}

/** Polls a condition on real, asynchronous Docker state, a bounded number of times. */
const eventually = async <A>(probe: () => Promise<A>, accept: (value: A) => boolean, tries = 60): Promise<A> => {
  let value = await probe()
  for (let i = 0; i < tries && !accept(value); i++) {
    await scheduler.wait(100)
    value = await probe()
  }
  return value
}

interface SlotRow {
  readonly container: string
  readonly state: string
}

interface TestPool {
  readonly name: string
  readonly pool: WarmPoolHandle<SessionContainer>
  readonly stub: DurableObjectStub<WarmPool>
  readonly seen: Set<string>
  readonly slots: () => Promise<ReadonlyArray<SlotRow>>
  readonly settled: () => Promise<void>
  readonly tick: () => Promise<TickReport>
}

const pools: Array<TestPool> = []
let serial = 0

const newPool = (options: WarmPoolOptions): TestPool => {
  const name = `e2e-${++serial}-${crypto.randomUUID().slice(0, 8)}`
  const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, { name, ...options })
  const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(name))
  /** Every container Durable Object id this pool has tracked, for the leak check. */
  const seen = new Set<string>()
  const slots = async () => {
    const rows = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec<{ container: string; state: string }>(`SELECT container, state FROM wp_slots`).toArray()
        .map((row): SlotRow => ({ container: row.container, state: row.state }))
    )
    for (const row of rows) seen.add(dockerIdOf(row.container))
    return rows
  }
  const handle: TestPool = {
    name,
    pool,
    stub,
    seen,
    slots,
    // The example exports the library's pool, whose test hooks are reached on the instance, never over RPC.
    settled: () => runInDurableObject(stub, (instance: WarmPool) => instance[testHooks].settled()),
    tick: () => runInDurableObject(stub, (instance: WarmPool) => instance[testHooks].tick())
  }
  pools.push(handle)
  return handle
}

const ask = async (container: { fetch: (url: string) => Promise<Response> }): Promise<ContainerInfo> => {
  const response = await container.fetch("http://container/")
  expect(response.status).toBe(200)
  return response.json()
}

afterEach(async () => {
  // Nothing leaks across tests: each pool is shut down and none of its containers keeps running.
  for (const pool of pools.splice(0)) {
    await pool.slots()
    await pool.pool.shutdown()
    expect(await eventually(() => running(pool.seen), (rows) => rows.length === 0)).toEqual([])
  }
})

afterAll(async () => {
  await SELF.fetch("http://example/shutdown", { method: "POST" })
  expect(await eventually(() => docker.ps(), (rows) => rows.every((row) => row.state !== "running"))).toSatisfy(
    (rows: ReadonlyArray<ContainerRow>) => rows.every((row) => row.state !== "running")
  )
})

describe("real containers", () => {
  it("pre-warm: stats() starts nothing; after the first assignment, minContainers warm containers run in Docker", async () => {
    const { pool, settled, slots } = newPool({ minContainers: 2, maxContainers: 4 })
    expect(await pool.stats()).toMatchObject({ total: 0 })
    await settled()
    expect(await slots()).toEqual([])
    await pool.getContainer("first")
    await settled()
    const tracked = await slots()
    expect(tracked.map((slot) => slot.state).sort()).toEqual(["acquired", "warm", "warm"])
    const rows = await running(tracked.map((slot) => dockerIdOf(slot.container)))
    expect(rows).toHaveLength(3)
  })

  it("warm hit: a new session is served by an already running container, with no start", async () => {
    // maxContainers 1 leaves no room for a refill, so Docker's count must not move at all.
    const { pool, settled } = newPool({ minContainers: 1, maxContainers: 1 })
    await pool.warmup()
    const before = (await docker.ps()).filter((row) => row.state === "running")
    const requestedAt = Math.floor(Date.now() / 1000)
    const container = await pool.getContainer("fresh-session")
    const info = await ask(container)
    await settled()
    const after = (await docker.ps()).filter((row) => row.state === "running")
    expect(after.map((row) => row.id).sort()).toEqual(before.map((row) => row.id).sort())
    expect(before.some((row) => row.id.startsWith(info.hostname))).toBe(true)
    expect(info.startedAt).toBeLessThanOrEqual(requestedAt)
    expect(info.requests).toBe(1)
  })

  it("stickiness through the example Worker: same id, same container; other ids, other containers", async () => {
    const get = async (path: string) => {
      const response = await SELF.fetch(`http://example${path}`)
      expect(response.status).toBe(200)
      expect(Number(response.headers.get("x-pool-ms"))).toBeGreaterThanOrEqual(0)
      expect(Number(response.headers.get("x-container-ms"))).toBeGreaterThanOrEqual(0)
      return response.json<ContainerInfo>()
    }
    const first = await get("/session/alice/")
    const second = await get("/session/alice/")
    const other = await get("/session/bob/")
    expect(second.hostname).toBe(first.hostname)
    expect(second.requests).toBe(first.requests + 1)
    expect(other.hostname).not.toBe(first.hostname)
    const released = await SELF.fetch("http://example/session/alice/release", { method: "POST" })
    expect(await released.json()).toMatchObject({ released: true })
    const stats = await (await SELF.fetch("http://example/stats")).json<{ sessions: number }>()
    expect(stats.sessions).toBe(1)
  })

  it("the Effect route holds a container for one request and releases it once the body was read", async () => {
    const response = await SELF.fetch("http://example/effect/session/one-shot/")
    expect(response.status).toBe(200)
    expect((await response.json<ContainerInfo>()).hostname).toMatch(/^[0-9a-f]{12}$/)
    // The hold ends in the background once the body has been sent.
    const stats = await eventually(
      async () => (await SELF.fetch("http://example/stats")).json<{ sessions: number }>(),
      (s) => s.sessions === 1
    )
    expect(stats.sessions).toBe(1) // bob's, from the previous test; one-shot's lease is gone
  })

  it("release: a short warm set takes the container back and the next id reuses it", async () => {
    // Recycling on release needs every client's sticky cache off (see README, Sticky cache).
    const { pool } = newPool({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
    const first = await ask(await pool.getContainer("a"))
    expect(await pool.releaseContainer("a")).toEqual({ released: true, outcome: "warm" })
    const next = await ask(await pool.getContainer("b"))
    expect(next.hostname).toBe(first.hostname)
  })

  it("release: with the warm set full, the container is stopped in Docker", async () => {
    const { pool, settled } = newPool({ minContainers: 1, maxContainers: 3 })
    const container = await pool.getContainer("a")
    const info = await ask(container)
    await settled()
    expect(await pool.releaseContainer("a")).toEqual({ released: true, outcome: "stopped" })
    const rows = await eventually(
      () => docker.ps(),
      (all) => !all.some((row) => row.id.startsWith(info.hostname) && row.state === "running")
    )
    expect(rows.some((row) => row.id.startsWith(info.hostname) && row.state === "running")).toBe(false)
  })

  it("cap: a burst of new ids never runs more than maxContainers; the surplus gets PoolExhausted", async () => {
    const { pool, slots } = newPool({ minContainers: 0, maxContainers: 3 })
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => pool.getContainer(`burst-${i}`)))
    const won = results.filter((r) => r.status === "fulfilled")
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected")
    expect(won).toHaveLength(3)
    expect(lost).toHaveLength(9)
    expect(lost.every((r) => r.reason instanceof PoolExhausted)).toBe(true)
    const tracked = await slots()
    expect(tracked).toHaveLength(3)
    expect(await running(tracked.map((slot) => dockerIdOf(slot.container)))).toHaveLength(3)
  })

  it("health: a container killed behind the pool's back is dropped; its id gets a fresh one; warm is refilled", async () => {
    // No sticky cache: the very next call must reach the pool (a cached entry would lapse within stickyCacheTtl).
    const { pool, settled, slots, stub, tick } = newPool({ minContainers: 1, maxContainers: 3, stickyCacheSize: 0 })
    const victim = await ask(await pool.getContainer("victim"))
    await settled()
    await docker.kill(victim.hostname)
    // Make every slot's check due now, then tick until the pool has seen the death.
    const report = await eventually(
      async () => {
        await runInDurableObject(stub, (_i, state) => void state.storage.sql.exec(`UPDATE wp_slots SET check_due_at = 0 WHERE check_due_at IS NOT NULL`))
        return tick()
      },
      (r) => r.dead === 1,
      30
    )
    expect(report.dead).toBe(1)
    const fresh = await ask(await pool.getContainer("victim"))
    expect(fresh.hostname).not.toBe(victim.hostname)
    expect(fresh.requests).toBe(1)
    await settled()
    expect(await pool.stats()).toMatchObject({ warm: 1, acquired: 1 })
    const tracked = await slots()
    expect(await running(tracked.map((slot) => dockerIdOf(slot.container)))).toHaveLength(2)
  })

  it("shutdown: no container of the pool is left in Docker", async () => {
    const { pool, settled, slots } = newPool({ minContainers: 2, maxContainers: 4 })
    await pool.warmup()
    await ask(await pool.getContainer("a"))
    await settled()
    const tracked = await slots()
    expect(await running(tracked.map((slot) => dockerIdOf(slot.container)))).toHaveLength(tracked.length)
    expect((await pool.shutdown()).stopped).toBe(tracked.length)
    expect(await eventually(() => running(tracked.map((slot) => dockerIdOf(slot.container))), (rows) => rows.length === 0))
      .toEqual([])
  })
})

describe("the fence on real containers: a stub kept past its lease gets 410 and starts nothing", () => {
  type Stub = { readonly id: DurableObjectId; fetch(input: string): Promise<Response> }
  const runningIds = async () =>
    (await docker.ps()).filter((row) => row.state === "running").map((row) => row.id).sort()

  /**
   * Once the old container is gone from Docker, a request through the kept stub is refused with `reason`, and
   * Docker runs exactly what it ran before: the old container's Durable Object started nothing.
   */
  const expectStaleStubRefused = async (kept: Stub, reason: string) => {
    const doId = kept.id.toString()
    expect(await eventually(() => running([doId]), (rows) => rows.length === 0)).toEqual([])
    const before = await runningIds()
    const response = await kept.fetch("http://container/")
    expect(response.status).toBe(410)
    expect(fencedReason(response)).toBe(reason)
    expect(await response.json()).toMatchObject({ reason })
    expect(await running([doId]), "the old container did not start again").toEqual([])
    expect(await runningIds(), "no container started anywhere").toEqual(before)
  }

  /** Makes every slot's check due and runs ticks until `accept` holds for a report. */
  const tickUntil = (pool: TestPool, accept: (report: TickReport) => boolean) =>
    eventually(async () => {
      await runInDurableObject(pool.stub, (_i, state) => void state.storage.sql.exec(`UPDATE wp_slots SET check_due_at = 0 WHERE check_due_at IS NOT NULL`))
      return pool.tick()
    }, accept, 30)

  it("after a release that stops the container", async () => {
    const { pool, settled } = newPool({ minContainers: 0, maxContainers: 2 })
    const kept = await pool.getContainer("a")
    await ask(kept)
    expect(await pool.releaseContainer("a")).toEqual({ released: true, outcome: "stopped" })
    await settled()
    await expectStaleStubRefused(kept, "released")
  })

  it("after the lease expires", async () => {
    const test = newPool({ minContainers: 0, maxContainers: 2, stickyCacheSize: 0 })
    const kept = await test.pool.getContainer("a")
    await ask(kept)
    await runInDurableObject(test.stub, (_i, state) => void state.storage.sql.exec(`UPDATE wp_slots SET expires_at = 1`))
    expect((await tickUntil(test, (report) => report.expired === 1)).expired).toBe(1)
    await test.settled()
    await expectStaleStubRefused(kept, "expired")
  })

  it("after a shutdown", async () => {
    const { pool, settled } = newPool({ minContainers: 1, maxContainers: 3 })
    const kept = await pool.getContainer("a")
    await ask(kept)
    await settled() // the refill is warm: the shutdown stops running containers only
    expect((await pool.shutdown()).stopped).toBe(2)
    await expectStaleStubRefused(kept, "shut-down")
  })

  it("after docker kill and the health check's drop", async () => {
    const test = newPool({ minContainers: 0, maxContainers: 2, stickyCacheSize: 0 })
    const kept = await test.pool.getContainer("victim")
    const victim = await ask(kept)
    await docker.kill(victim.hostname)
    expect((await tickUntil(test, (report) => report.dead === 1)).dead).toBe(1)
    await test.settled()
    await expectStaleStubRefused(kept, "dead")
  })

  it("the container's own requests need no token, and start nothing once the pool stopped it", async () => {
    const { pool, settled } = newPool({ minContainers: 0, maxContainers: 2 })
    const kept = await pool.getContainer("a")
    await ask(kept)
    const own = () =>
      runInDurableObject(env.CONTAINER.get(kept.id), async (instance: SessionContainer) => {
        const response = await PooledContainer.ownContainerFetch(instance, "http://container/")
        return { status: response.status, body: await response.json<{ requests?: number; reason?: string }>() }
      })
    expect(await own()).toMatchObject({ status: 200, body: { requests: 2 } })
    expect(await pool.releaseContainer("a")).toMatchObject({ outcome: "stopped" })
    await settled()
    expect(await eventually(() => running([kept.id.toString()]), (rows) => rows.length === 0)).toEqual([])
    expect(await own()).toMatchObject({ status: 410, body: { reason: "released" } })
    expect(await running([kept.id.toString()])).toEqual([])
  })

  it("the example's /direct route, bench:e2e's baseline, reaches the session's container with its lease token", async () => {
    const viaPool = await SELF.fetch("http://example/session/direct-check/")
    expect(viaPool.status).toBe(200)
    const first = await viaPool.json<ContainerInfo>()
    const direct = await SELF.fetch("http://example/direct/session/direct-check/")
    expect(direct.status).toBe(200)
    expect(await direct.json()).toMatchObject({ hostname: first.hostname, requests: first.requests + 1 })
    // The example pool's refill finishes starting first: a start cut short by a stop is not what this test is about.
    const examplePool = env.WARM_POOL.get(env.WARM_POOL.idFromName("example"))
    await runInDurableObject(examplePool, (instance: WarmPool) => instance[testHooks].settled())
    await SELF.fetch("http://example/session/direct-check/release", { method: "POST" })
  })

  it("cache off, reuse on: A's stub gets 410 once B holds the container, and B's request counter is unchanged", async () => {
    const { pool } = newPool({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
    const a = await pool.getContainer("a")
    const first = await ask(a)
    expect(await pool.releaseContainer("a")).toEqual({ released: true, outcome: "warm" })
    const b = await pool.getContainer("b")
    const before = await ask(b)
    expect(before.hostname, "B reuses A's container").toBe(first.hostname)
    const stale = await a.fetch("http://container/")
    expect(stale.status).toBe(410)
    expect(await stale.json()).toMatchObject({ reason: "leased-again" })
    const after = await ask(b)
    expect(after.hostname).toBe(before.hostname)
    expect(after.requests, "A's request never reached B's container").toBe(before.requests + 1)
  })
})
