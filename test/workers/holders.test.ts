/**
 * Overlapping scoped acquires share one lease (issue 11, point 1), against the real WarmPool Durable
 * Object in workerd and stand-in containers, driven the way a user's Worker drives it: two requests for
 * one session, each in its own `Effect.scoped(pool.acquire(id))`, the first closing while the second holds.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { createWarmPool, PoolExhausted, StickyCache, WarmPoolClient, type WarmPoolOptions } from "cf-container-warm-pool"
import { Effect, Exit, Scope } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { countingNamespace } from "../support/countingNamespace.js"
import { stateOf } from "./helpers.js"
import { standIn } from "./StandInContainer.js"

afterEach(() => standIn.reset())

let serial = 0
const poolName = () => `holders-${++serial}-${crypto.randomUUID()}`

/** A client as one isolate of the user's Worker has it: its own sticky cache. */
const isolate = (options: WarmPoolOptions) =>
  Effect.runSync(WarmPoolClient.make(env.WARM_POOL, env.CONTAINER, options, StickyCache.make()))

const poolStub = (name: string) => env.WARM_POOL.get(env.WARM_POOL.idFromName(name))
const holderRows = (name: string) =>
  runInDurableObject(poolStub(name), (_i, state) =>
    state.storage.sql.exec<{ container: string; holder: string }>(`SELECT container, holder FROM wp_holders`).toArray())

/** One request's scope, opened by an acquire: closing it is what `Effect.scoped` does when the request ends. */
const openRequest = (client: ReturnType<typeof isolate>, sessionId: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const container = yield* Scope.extend(client.acquire(sessionId), scope)
    return { container, end: Scope.close(scope, Exit.void) }
  })

describe("overlapping scoped acquires", () => {
  it("cache off, pool full: bob never gets alice's container while alice's second request holds it", async () => {
    const options = { name: poolName(), minContainers: 2, maxContainers: 2, stickyCacheSize: 0 }
    const pool = isolate(options)
    await Effect.runPromise(Effect.gen(function*() {
      yield* pool.warmup()
      const request1 = yield* openRequest(pool, "alice")
      yield* pool.getContainer("other")
      const request2 = yield* openRequest(pool, "alice")
      expect(request2.container.id.toString()).toBe(request1.container.id.toString())
      yield* request1.end
      const bob = yield* Effect.either(pool.getContainer("bob"))
      expect(bob._tag === "Left" ? bob.left : `bob got ${bob.right.id}`).toBeInstanceOf(PoolExhausted)
      const response = yield* Effect.promise(() => request2.container.fetch("http://c/"))
      expect(response.status).toBe(200)
      yield* request2.end
      // Now nobody holds it: reusing it is fine.
      expect((yield* pool.getContainer("bob")).id.toString()).toBe(request1.container.id.toString())
    }))
  })

  it("default cache: the first request's end does not stop the container under the second", async () => {
    const options = { name: poolName(), minContainers: 1 }
    const pool = isolate(options)
    await Effect.runPromise(Effect.gen(function*() {
      const request1 = yield* openRequest(pool, "alice")
      const request2 = yield* openRequest(pool, "alice")
      yield* request1.end
      expect(stateOf(request2.container)?.status).toBe("healthy")
      expect((yield* Effect.promise(() => request2.container.fetch("http://c/"))).status).toBe(200)
      expect((yield* pool.stats).sessions).toBe(1)
      yield* request2.end
      expect((yield* pool.stats).sessions).toBe(0)
      expect(stateOf(request2.container)?.status).toBe("stopped")
    }))
  })

  it("holders in different isolates count together: the lease ends only when the last one leaves", async () => {
    const options = { name: poolName(), minContainers: 0, stickyCacheSize: 0 }
    const [a, b] = [isolate(options), isolate(options)]
    await Effect.runPromise(Effect.gen(function*() {
      const inA = yield* openRequest(a, "alice")
      const inB = yield* openRequest(b, "alice")
      expect(inB.container.id.toString()).toBe(inA.container.id.toString())
      expect(yield* Effect.promise(() => holderRows(options.name))).toHaveLength(2)
      yield* inA.end
      expect(yield* Effect.promise(() => holderRows(options.name))).toHaveLength(1)
      expect((yield* b.stats).sessions).toBe(1)
      expect(stateOf(inB.container)?.status).toBe("healthy")
      yield* inB.end
      expect(yield* Effect.promise(() => holderRows(options.name))).toEqual([])
      expect((yield* a.stats).sessions).toBe(0)
    }))
  })

  it("an explicit releaseContainer under a holder stops the container; the holder's end then changes nothing", async () => {
    const options = { name: poolName(), minContainers: 2, maxContainers: 3, stickyCacheSize: 0 }
    const pool = isolate(options)
    const handle = createWarmPool(env.WARM_POOL, env.CONTAINER, options, StickyCache.make())
    await Effect.runPromise(Effect.gen(function*() {
      const request = yield* openRequest(pool, "alice")
      // The warm set is short (0 of 2): without the holder the container would go back to it.
      expect(yield* Effect.promise(() => handle.releaseContainer("alice"))).toEqual({ released: true, outcome: "stopped" })
      expect(stateOf(request.container)?.status).toBe("stopped")
      const next = yield* openRequest(pool, "alice")
      expect(next.container.id.toString()).not.toBe(request.container.id.toString())
      yield* request.end
      expect((yield* pool.stats).sessions).toBe(1)
      expect(stateOf(next.container)?.status).toBe("healthy")
      yield* next.end
    }))
  })

  it("plain getContainer keeps its sliding lease: a scoped acquire of the same id leaves it in place", async () => {
    const options = { name: poolName(), minContainers: 0 }
    const pool = isolate(options)
    await Effect.runPromise(Effect.gen(function*() {
      const plain = yield* pool.getContainer("alice")
      const request = yield* openRequest(pool, "alice")
      expect(request.container.id.toString()).toBe(plain.id.toString())
      yield* request.end
      expect((yield* pool.stats).sessions).toBe(1)
      expect((yield* pool.getContainer("alice")).id.toString()).toBe(plain.id.toString())
      expect(stateOf(plain)?.status).toBe("healthy")
    }))
  })
})

describe("a live holder", () => {
  it("renews itself through the pool while its scope is open, and leaves when it closes", async () => {
    const rpc = countingNamespace(env.WARM_POOL)
    const options = { name: poolName(), minContainers: 0, stickyCacheSize: 0, acquireTimeout: 400 }
    const pool = Effect.runSync(WarmPoolClient.make(rpc.namespace, env.CONTAINER, options, StickyCache.make()))
    const deadline = () =>
      runInDurableObject(poolStub(options.name), (_i, state) =>
        state.storage.sql.exec<{ expires_at: number }>(`SELECT expires_at FROM wp_holders`).one().expires_at)
    await Effect.runPromise(Effect.gen(function*() {
      const request = yield* openRequest(pool, "alice")
      const first = yield* Effect.promise(deadline)
      // Every acquireTimeout / 2 (200 ms here): waited for, not slept on.
      yield* Effect.promise(() => vi.waitFor(() => expect(rpc.count("renewHold")).toBeGreaterThanOrEqual(2), { timeout: 5_000 }))
      expect(yield* Effect.promise(deadline)).toBeGreaterThan(first)
      expect((yield* pool.stats).sessions).toBe(1)
      yield* request.end
      expect(rpc.count("releaseHold")).toBe(1)
      expect(yield* Effect.promise(() => holderRows(options.name))).toEqual([])
    }))
  })
})

describe("fetch(sessionId, request)", () => {
  it("holds the session until a streamed body has been fully read, then releases it", async () => {
    const options = { name: poolName(), minContainers: 0, stickyCacheSize: 0 }
    const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, options, StickyCache.make())
    const response = await pool.fetch("alice", new Request("http://c/stream"))
    expect(response.status).toBe(200)
    const reader = response.body!.getReader()
    standIn.stream!.push("first ")
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first ")
    // Mid-body: the hold stands, whatever else happens to the session.
    expect(await holderRows(options.name)).toHaveLength(1)
    const other = isolate(options)
    const overlap = await Effect.runPromise(Effect.scoped(Effect.map(other.acquire("alice"), (c) => c.id.toString())))
    expect((await pool.stats()).sessions).toBe(1)
    standIn.stream!.push("second")
    await reader.read()
    expect((await pool.stats()).sessions).toBe(1)
    standIn.stream!.end()
    expect((await reader.read()).done).toBe(true)
    // The release runs in the background once the body is done; the slot goes once its container stopped.
    await vi.waitFor(async () => expect((await pool.stats()).total).toBe(0))
    expect(standIn.containers.get(overlap)?.status).toBe("stopped")
  })

  it("releases the hold when the reader cancels the body", async () => {
    const options = { name: poolName(), minContainers: 0, stickyCacheSize: 0 }
    const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, options, StickyCache.make())
    const response = await pool.fetch("alice", new Request("http://c/stream"))
    const reader = response.body!.getReader()
    standIn.stream!.push("partial")
    await reader.read()
    expect((await pool.stats()).sessions).toBe(1)
    // Cancelled with no read pending: workerd reports a cancelled pending read of a native body as an
    // unhandled rejection even when the reader handled it.
    await reader.cancel("client went away")
    await vi.waitFor(async () => expect((await pool.stats()).sessions).toBe(0))
  })

  it("a response read whole releases its hold; the Effect client's fetch does the same", async () => {
    const options = { name: poolName(), minContainers: 0, stickyCacheSize: 0 }
    const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, options, StickyCache.make())
    const body = await (await pool.fetch("alice", new Request("http://c/"))).json() as { requests: number }
    expect(body.requests).toBe(1)
    await vi.waitFor(async () => expect((await pool.stats()).sessions).toBe(0))
    const client = isolate(options)
    const again = await Effect.runPromise(Effect.flatMap(client.fetch("alice", new Request("http://c/")), (r) =>
      Effect.promise(() => r.text())))
    expect(again).toContain("requests")
    await vi.waitFor(async () => expect((await pool.stats()).sessions).toBe(0))
  })

  it("fails with the pool's typed error and holds nothing when the pool refuses", async () => {
    const options = { name: poolName(), minContainers: 0, maxContainers: 1, stickyCacheSize: 0 }
    const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, options, StickyCache.make())
    await pool.getContainer("other")
    await expect(pool.fetch("alice", new Request("http://c/"))).rejects.toBeInstanceOf(PoolExhausted)
    expect(await holderRows(options.name)).toEqual([])
    await expect(pool.fetch("", new Request("http://c/"))).rejects.toMatchObject({ _tag: "InvalidSessionId" })
  })
})
