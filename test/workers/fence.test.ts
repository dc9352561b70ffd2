/**
 * The fence in workerd: the real pool and client against stand-ins behind `PooledContainer`'s fence
 * (`FencedStandIn`), which start themselves on an admitted request as `Container.fetch` does. A stub kept
 * past its lease gets `410 Gone` naming why, and starts nothing.
 */
import { env, runInDurableObject } from "cloudflare:test"
import type { WarmPoolOptions } from "cf-container-warm-pool"
import { ContainerFenced, createWarmPool, fencedReason, LEASE_HEADER, StickyCache } from "cf-container-warm-pool"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { sendThroughFence } from "../../src/internal/fenceRetry.js"
import { countingNamespace } from "../support/countingNamespace.js"
import { holdNextRequest, holdNextRevoke, reachedWith } from "./FencedStandIn.js"
import { rejection, stateOf } from "./helpers.js"
import { standIn } from "./StandInContainer.js"

afterEach(() => standIn.reset())

let serial = 0

/** A pool of fenced stand-ins; `handle()` is another isolate's client, with its own sticky cache. */
const fencedPool = (options: WarmPoolOptions = {}) => {
  const config = { name: `fence-${++serial}-${crypto.randomUUID()}`, containerBinding: "FENCED", ...options }
  const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(config.name))
  const handle = (cache = StickyCache.make()) => createWarmPool(env.WARM_POOL, env.FENCED, config, cache)
  return { config, stub, handle, pool: handle(), settled: () => stub.settled(), tick: () => stub.tick() }
}

type Stub = { readonly id: DurableObjectId; fetch(input: string, init?: RequestInit): Promise<Response> }

const refusal = async (stub: Stub) => {
  const response = await stub.fetch("http://container/")
  return { status: response.status, reason: fencedReason(response), body: await response.json<{ reason: string }>() }
}
const served = async (stub: Stub) => {
  const response = await stub.fetch("http://container/")
  expect(response.status).toBe(200)
  return response.json<{ container: string; requests: number }>()
}
const makeChecksDue = (stub: DurableObjectStub) =>
  runInDurableObject(stub, (_i, state) => void state.storage.sql.exec(`UPDATE wp_slots SET check_due_at = 0 WHERE check_due_at IS NOT NULL`))

/** A refused request: 410 with the reason, in the header and the JSON body; the container did not start. */
const expectRefusedWithoutStart = async (stub: Stub, reason: string) => {
  const starts = standIn.calls.starts
  expect(await refusal(stub)).toEqual({ status: 410, reason, body: expect.objectContaining({ reason }) })
  expect(standIn.calls.starts, "the refusal started nothing").toBe(starts)
  expect(stateOf(stub)?.status).not.toBe("healthy")
}

describe("the fence", () => {
  it("a lease's stub reaches its container, with the token stripped before the container sees the request", async () => {
    const { pool } = fencedPool({ minContainers: 0 })
    const container = await pool.getContainer("a")
    expect((await served(container)).requests).toBe(1)
    expect((await served(container)).requests).toBe(2)
    expect(reachedWith.get(container.id.toString())).toEqual({ leaseHeader: null })
  })

  it("costs no extra round trip: a new session is one pool call, a sticky one none, and the container gets only the requests", async () => {
    const { config } = fencedPool({ minContainers: 1 })
    const pools = countingNamespace(env.WARM_POOL)
    const containers = countingNamespace(env.FENCED)
    const pool = createWarmPool(pools.namespace, containers.namespace, config, StickyCache.make())
    await served(await pool.getContainer("a"))
    expect(pools.count()).toBe(1)
    const sticky = await pool.getContainer("a")
    expect((await served(sticky)).requests).toBe(2)
    expect(pools.count(), "the sticky call made no pool call").toBe(1)
    expect(containers.count(), "no container RPC besides the requests themselves").toBe(0)
  })

  it("after a release that stops the container, the kept stub gets 410 released and starts nothing", async () => {
    const { pool } = fencedPool({ minContainers: 0 })
    const kept = await pool.getContainer("a")
    await served(kept)
    expect(await pool.releaseContainer("a")).toEqual({ released: true, outcome: "stopped" })
    await expectRefusedWithoutStart(kept, "released")
  })

  it("after the lease expires, the kept stub gets 410 expired and starts nothing", async () => {
    const { pool, stub, tick } = fencedPool({ minContainers: 0, acquireTimeout: 1_000, stickyCacheSize: 0 })
    const kept = await pool.getContainer("a")
    await served(kept)
    await runInDurableObject(stub, (_i, state) => void state.storage.sql.exec(`UPDATE wp_slots SET expires_at = 1, check_due_at = 0`))
    expect(await tick()).toMatchObject({ expired: 1 })
    await stub.settled()
    await expectRefusedWithoutStart(kept, "expired")
  })

  it("after a shutdown, every kept stub gets 410 shut-down and starts nothing", async () => {
    const { pool } = fencedPool({ minContainers: 1 })
    const a = await pool.getContainer("a")
    const b = await pool.getContainer("b")
    await served(a)
    expect((await pool.shutdown()).stopped).toBeGreaterThanOrEqual(2)
    await expectRefusedWithoutStart(a, "shut-down")
    await expectRefusedWithoutStart(b, "shut-down")
  })

  it("after the health check drops a dead container, the kept stub gets 410 dead and starts nothing", async () => {
    const { pool, stub, tick } = fencedPool({ minContainers: 0 })
    const kept = await pool.getContainer("a")
    await served(kept)
    await (env.FENCED.get(kept.id) as unknown as { kill(): Promise<void> }).kill()
    await makeChecksDue(stub)
    expect(await tick()).toMatchObject({ dead: 1 })
    await expectRefusedWithoutStart(kept, "dead")
  })

  it("with the cache off and reuse on, A's kept stub gets 410 once the container is B's, and B's counter is unchanged", async () => {
    const { pool } = fencedPool({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
    const a = await pool.getContainer("a")
    await served(a)
    expect(await pool.releaseContainer("a")).toEqual({ released: true, outcome: "warm" })
    expect(await refusal(a), "released, back in the warm set").toMatchObject({ status: 410, reason: "released" })
    const b = await pool.getContainer("b")
    expect(b.id.toString(), "the same container, reused").toBe(a.id.toString())
    const before = await served(b)
    expect(await refusal(a)).toMatchObject({ status: 410, reason: "leased-again" })
    expect(await served(b), "A's request never reached B's container").toMatchObject({ requests: before.requests + 1 })
  })

  it("a getContainer while a release revokes the lease is never answered that container: the lease ended first", async () => {
    const { pool } = fencedPool({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
    const a = await pool.getContainer("a")
    await served(a)
    const revoke = holdNextRevoke()
    const release = pool.releaseContainer("a")
    await revoke.entered
    // The pool's only container is on its way back to the warm set: the pool is full, and a's lease is gone.
    expect(await rejection(pool.getContainer("a"))).toMatchObject({ _tag: "PoolExhausted", warming: 1, acquired: 0 })
    expect(await pool.stats()).toMatchObject({ warm: 0, acquired: 0, warming: 1, total: 1 })
    revoke.release()
    expect(await release).toEqual({ released: true, outcome: "warm" })
    expect(await refusal(a)).toMatchObject({ status: 410, reason: "released" })
    const again = await pool.getContainer("a")
    expect(again.id.toString(), "a's again, as a new lease").toBe(a.id.toString())
    await served(again)
  })

  it("a request without the lease token, or to a container the pool never leased, gets 410 and starts nothing", async () => {
    const { pool } = fencedPool({ minContainers: 0 })
    const leased = await pool.getContainer("a")
    await served(leased)
    const raw = env.FENCED.get(leased.id) as unknown as Stub
    expect(await refusal(raw)).toMatchObject({ status: 410, reason: "no-token" })
    await expectRefusedWithoutStart(env.FENCED.get(env.FENCED.newUniqueId()) as unknown as Stub, "never-leased")
    const stale = await raw.fetch("http://container/", { headers: { [LEASE_HEADER]: "0" } })
    expect(fencedReason(stale), "a token older than the lease").toBe("leased-again")
  })

  it("the pool's own starts, health checks and keep-alives work on fenced containers", async () => {
    const { pool, stub, tick } = fencedPool({ minContainers: 2 })
    await pool.warmup()
    expect(await pool.stats()).toMatchObject({ warm: 2 })
    await served(await pool.getContainer("a"))
    await stub.settled()
    const keepAlives = standIn.calls.keepAlives
    await makeChecksDue(stub)
    expect(await tick()).toMatchObject({ dead: 0, failures: [] })
    expect(standIn.calls.keepAlives, "each warm container kept alive").toBe(keepAlives + 2)
    expect(await pool.stats()).toMatchObject({ warm: 2, acquired: 1 })
  })

  it("fetch(id, request): a lease ended under its hold, so it takes a new hold and resends once; unreplayable, it fails typed", async () => {
    const { handle } = fencedPool({ minContainers: 0 })
    const pool = handle()
    await served(await pool.getContainer("a"))
    const endLeaseOnArrival = async () => {
      const held = holdNextRequest()
      await held.entered
      // Another isolate releases the lease while the request waits at the container's door.
      expect(await handle().releaseContainer("a")).toMatchObject({ released: true, outcome: "stopped" })
      held.release()
    }
    const starts = standIn.calls.starts
    const post = new Request("http://container/", { method: "POST", body: "hello", headers: { "content-length": "5" } })
    const [response] = await Promise.all([pool.fetch("a", post), endLeaseOnArrival()])
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ requests: 1 })
    expect(standIn.calls.starts - starts, "the new lease's cold start only").toBe(1)
    const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("x")), c.close()) })
    const unreplayable = new Request("http://container/", { method: "POST", body: stream, duplex: "half" } as RequestInit)
    const [failed] = await Promise.all([rejection(pool.fetch("a", unreplayable)), endLeaseOnArrival()])
    expect(failed).toBeInstanceOf(ContainerFenced)
    expect(failed).toMatchObject({ _tag: "ContainerFenced", sessionId: "a", reason: "released", retried: false })
  })

  it("sendThroughFence with a sticky cache entry that outlived its lease: invalidate, resolve once more, resend", async () => {
    const { handle } = fencedPool({ minContainers: 0 })
    const cache = StickyCache.make()
    const mine = handle(cache)
    const old = await mine.getContainer("a")
    await served(old)
    // Another isolate releases the lease: this isolate's cache still names the stopped container.
    expect(await handle().releaseContainer("a")).toMatchObject({ outcome: "stopped" })
    const send = (request: Request) =>
      sendThroughFence({
        sessionId: "a",
        request,
        resolve: Effect.promise(() => mine.getContainer("a")),
        invalidate: Effect.sync(() => mine.invalidate("a")),
        send: (stub, r) => Effect.promise(() => stub.fetch(r))
      })
    const starts = standIn.calls.starts
    const response = await Effect.runPromise(send(new Request("http://container/", { method: "POST", body: "hello", headers: { "content-length": "5" } })))
    expect(response.status).toBe(200)
    const body = await response.json<{ container: string }>()
    expect(body.container, "a fresh container").not.toBe(old.id.toString())
    expect(stateOf(old)?.status, "the old one stayed stopped").not.toBe("healthy")
    expect(standIn.calls.starts - starts, "only the new container's cold start").toBe(1)
    // A body of unknown length cannot be replayed: a typed failure, never a second send.
    await handle().releaseContainer("a")
    const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("x")), c.close()) })
    const failed = await Effect.runPromise(
      Effect.flip(send(new Request("http://container/", { method: "POST", body: stream, duplex: "half" } as RequestInit)))
    )
    expect(failed).toBeInstanceOf(ContainerFenced)
    expect(failed).toMatchObject({ _tag: "ContainerFenced", sessionId: "a", reason: "released", retried: false })
  })
})

describe("a plain Container (no fence)", () => {
  it("keeps working unfenced: requests reach it, and a release returns it to the warm set for the next id", async () => {
    const name = `plain-${crypto.randomUUID()}`
    const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, { name, minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
    const a = await pool.getContainer("a")
    expect((await (a as unknown as Stub).fetch("http://c/")).status).toBe(200)
    expect(await pool.releaseContainer("a")).toEqual({ released: true, outcome: "warm" })
    const b = await pool.getContainer("b")
    expect(b.id.toString()).toBe(a.id.toString())
    expect(await (b as unknown as Stub).fetch("http://c/").then((r) => r.json())).toMatchObject({ requests: 2 })
    // Unfenced, a stub kept past its lease still reaches the container: what PooledContainer prevents.
    expect((await (a as unknown as Stub).fetch("http://c/")).status).toBe(200)
  })
})
