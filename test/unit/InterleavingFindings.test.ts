/**
 * Races the interleaving model test (test/unit/Interleaving.test.ts) found, or that writing its invariants
 * led to, each replayed here as one deterministic interleaving, so the fix stays proven however the
 * generator changes. A call is paused
 * at one store or alarm call, as an Effect fiber may be at any step while others run.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, TestClock } from "effect"
import type { PoolAlarmService } from "../../src/internal/PoolAlarm.js"
import { memoryBackend, PoolAlarm } from "../../src/internal/PoolAlarm.js"
import type { PoolStoreService } from "../../src/internal/PoolStore.js"
import { PoolRecord, PoolStore } from "../../src/internal/PoolStore.js"
import { migrate } from "../../src/internal/SqlitePoolStore.js"
import { config, fakeDriver, makeFakeContainers } from "../support/FakeContainers.js"
import { buildPool, poolUnderTest } from "../support/PoolUnderTest.js"
import { makeSqlJsStorageSync } from "../support/SqlJsStorage.js"

type PausePoint = "assignWarm" | "renewLease" | "markStopping" | "clearAlarm"

/** A pool whose `assignWarm` and alarm `clear` can each be paused once: the next caller waits there. */
const makePausableHarness = Effect.gen(function*() {
  const fake = makeFakeContainers()
  const storage = makeSqlJsStorageSync()
  yield* Effect.addFinalizer(() => Effect.sync(() => storage.close()))
  migrate(storage)
  const store = yield* PoolStore.make(storage)
  const backend = memoryBackend()
  const alarm = yield* PoolAlarm.make(backend)
  const pauses = new Map<PausePoint, { readonly reached: Deferred.Deferred<void>; readonly go: Deferred.Deferred<void> }>()
  const pausable = <A, E>(point: PausePoint, effect: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      const pause = pauses.get(point)
      if (pause === undefined) return effect
      pauses.delete(point)
      return Effect.zipRight(Effect.zipRight(Deferred.succeed(pause.reached, undefined), Deferred.await(pause.go)), effect)
    })
  const context = yield* buildPool(Layer.mergeAll(
    Layer.succeed(PoolStore, {
      ...store,
      assignWarm: (...args) => pausable("assignWarm", store.assignWarm(...args)),
      renewLease: (...args) => pausable("renewLease", store.renewLease(...args)),
      markStopping: (...args) => pausable("markStopping", store.markStopping(...args))
    } satisfies PoolStoreService),
    Layer.succeed(PoolRecord, PoolRecord.make(storage)),
    fakeDriver(fake),
    Layer.succeed(PoolAlarm, { ...alarm, clear: pausable("clearAlarm", alarm.clear) } satisfies PoolAlarmService)
  ))
  /** The next call to reach `point` waits there; the effect returned lets it go on. */
  const pauseAt = (point: PausePoint) =>
    Effect.gen(function*() {
      const pause = { reached: yield* Deferred.make<void>(), go: yield* Deferred.make<void>() }
      pauses.set(point, pause)
      return { reached: Deferred.await(pause.reached), go: Deferred.succeed(pause.go, undefined) }
    })
  return { pool: poolUnderTest(context), store, fake, alarm: backend, pauseAt }
})

const idlePool = config({ minContainers: 0, maxContainers: 2, stickyCacheSize: 0 })

describe("races found with the interleaving model test", () => {
  describe("the alarm stays armed while the pool holds a container", () => {
    // A getContainer found the alarm armed, then, before it reserved its cold start, a tick saw an idle
    // pool and disarmed. The pool held a leased container with no alarm: no expiry, no health check.
    it.scoped("a cold start reserved after a tick disarmed the idle pool arms the alarm again", () =>
      Effect.gen(function*() {
        const { alarm, fake, pauseAt, pool, store } = yield* makePausableHarness
        yield* pool.getContainer("a", idlePool)
        yield* pool.release("a", idlePool) // stopped: the pool holds nothing, its alarm still armed
        expect(yield* store.counts).toMatchObject({ warm: 0, acquired: 0, stopping: 0 })

        const paused = yield* pauseAt("assignWarm")
        const get = yield* Effect.fork(pool.getContainer("c", idlePool))
        yield* paused.reached // past the alarm check, before the reservation
        expect((yield* pool.tick).nextAlarm, "the tick saw an idle pool").toBeNull()
        expect(alarm.get()).toBeNull()
        yield* paused.go
        const container = yield* Fiber.join(get)

        expect(fake.running()).toEqual([container])
        expect(alarm.get(), "a pool that holds a container has its alarm armed").not.toBeNull()
      }))

    // The other order: the tick counted no container, a cold start reserved one, then the tick disarmed.
    it.scoped("a tick does not disarm on a count a cold start has changed since", () =>
      Effect.gen(function*() {
        const { alarm, fake, pauseAt, pool } = yield* makePausableHarness
        yield* pool.getContainer("a", idlePool)
        yield* pool.release("a", idlePool)

        const paused = yield* pauseAt("clearAlarm")
        const tick = yield* Effect.fork(pool.tick)
        yield* paused.reached
        const get = yield* Effect.fork(pool.getContainer("c", idlePool))
        yield* paused.go
        yield* Fiber.join(tick)
        const container = yield* Fiber.join(get)

        expect(fake.running()).toEqual([container])
        expect(alarm.get(), "a pool that holds a container has its alarm armed").not.toBeNull()
      }))
  })

  // Found while writing the interleaving test's "an id keeps its container" check: a getContainer read a live
  // lease, the lease lapsed and the tick stopped its container before the renewal was written, and the call
  // answered the stopped container anyway (the failed renewal was ignored).
  it.scoped("a getContainer whose lease ended before its renewal was written answers a live lease, not the old container", () =>
    Effect.gen(function*() {
      const { fake, pauseAt, pool, store } = yield* makePausableHarness
      const cfg = config({ minContainers: 0, maxContainers: 2, acquireTimeout: 3_000, stickyCacheSize: 0 })
      const first = yield* pool.getContainer("a", cfg)
      yield* TestClock.adjust(Duration.millis(2_999))

      const paused = yield* pauseAt("renewLease")
      const get = yield* Effect.fork(pool.getContainer("a", cfg))
      yield* paused.reached // read a's lease, live at 2,999 ms
      yield* TestClock.adjust(Duration.millis(1))
      const tick = yield* Effect.fork(pool.tick) // its refill waits on the lock the renewal holds
      while (fake.status.get(first) !== "stopped") yield* Effect.yieldNow() // the lease lapsed at 3,000 ms
      yield* paused.go
      const container = yield* Fiber.join(get)
      expect((yield* Fiber.join(tick)).expired).toBe(1)

      expect(container, "not the container the tick stopped").not.toBe(first)
      expect(fake.status.get(container)).toBe("healthy")
      expect(yield* store.lease("a")).toMatchObject({ container })
    }))

  // Random seed 2 with holds: the last holder of a's lease left and its release decided to end the lease
  // (no plain use yet); before it wrote the end, a plain getContainer("a") renewed the lease as sliding and
  // was answered its container. The release then stopped it: a getContainer caller lost its container.
  it.scoped("a plain getContainer that renews a lease while its last holder leaves keeps the container it was answered", () =>
    Effect.gen(function*() {
      const { fake, pauseAt, pool, store } = yield* makePausableHarness
      const cfg = config({ minContainers: 0, maxContainers: 2, stickyCacheSize: 0 })
      const held = yield* pool.hold("a", "holder-1", cfg)

      const paused = yield* pauseAt("markStopping")
      const leave = yield* Effect.fork(pool.releaseHold("a", "holder-1", cfg))
      yield* paused.reached // the last holder is out and the release decided to end the lease
      const fork = yield* Effect.fork(pool.getContainer("a", cfg))
      yield* paused.go
      yield* Fiber.join(leave)
      const container = yield* Fiber.join(fork)

      expect(yield* store.lease("a"), "a's lease is the container its getContainer was answered").toMatchObject({ container })
      expect(fake.status.get(container)).toBe("healthy")
      expect(fake.status.get(held), "the container the release ended is stopped").toBe("stopped")
    }))

  // Fixed seed, fourth schedule (once the fence landed): min = max = 1, cache off, scope("a") leaves while a plain
  // getContainer("a") comes in. The leave decided "end" under the lock but left the lease in place while it
  // revoked the fence (a container call outside the lock): the getContainer renewed the lease and was answered
  // the container, which then went back to the warm set, free for another id, the first caller's token refused.
  describe("no caller is answered a container whose lease is being ended", () => {
    const full = config({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })

    type Pool = ReturnType<typeof poolUnderTest>
    /** `take` leases a container to a, `end` ends the lease with a slow revocation; a plain getContainer("a") arrives while it revokes. */
    const getDuringRevoke = <E1, E2>(take: (pool: Pool) => Effect.Effect<string, E1>, end: (pool: Pool) => Effect.Effect<unknown, E2>) =>
      Effect.gen(function*() {
        const { fake, pool, store } = yield* makePausableHarness
        const container = yield* take(pool)
        const oldToken = (yield* store.lease("a"))!.fence
        fake.behaviour.revokeDelay = Duration.seconds(1)
        const ending = yield* Effect.fork(end(pool))
        while (fake.calls.revokes === 0) yield* Effect.yieldNow()
        const during = yield* Effect.either(pool.getContainer("a", full))
        yield* TestClock.adjust(Duration.seconds(1))
        return { container, during, ended: yield* Fiber.join(ending), fake, oldToken, pool, store }
      })

    it.scoped("the last holder's leave: a plain getContainer during its revocation gets a fresh assignment, never that container", () =>
      Effect.gen(function*() {
        const { container, during, ended, fake, oldToken, pool, store } = yield* getDuringRevoke(
          (pool) => pool.hold("a", "holder-1", full),
          (pool) => pool.releaseHold("a", "holder-1", full)
        )
        // The only container is on its way back to the warm set: a full pool, not the container.
        expect(during).toMatchObject({ _tag: "Left", left: { _tag: "PoolExhausted", warming: 1, acquired: 0 } })
        expect(ended).toEqual({ outcome: "warm", holdersLeft: 0 })
        expect(yield* store.lease("a")).toBeUndefined()
        expect(fake.request(container, oldToken)).toEqual({ admitted: false, reason: "released" })
        // Back in the warm set, it is a's again only as a new lease, with a newer token.
        expect(yield* pool.getContainer("a", full)).toBe(container)
        expect((yield* store.lease("a"))!.fence).toBeGreaterThan(oldToken! + 1)
      }))

    it.scoped("releaseContainer: a plain getContainer during its revocation gets a fresh assignment, never that container", () =>
      Effect.gen(function*() {
        const { container, during, ended, fake, oldToken, store } = yield* getDuringRevoke(
          (pool) => pool.getContainer("a", full),
          (pool) => pool.release("a", full)
        )
        expect(during).toMatchObject({ _tag: "Left", left: { _tag: "PoolExhausted", warming: 1, acquired: 0 } })
        expect(ended).toEqual({ released: true, outcome: "warm" })
        expect(yield* store.lease("a")).toBeUndefined()
        expect(yield* store.slot(container)).toMatchObject({ state: "warm", sessionId: null })
        expect(fake.request(container, oldToken)).toEqual({ admitted: false, reason: "released" })
      }))

    it.scoped("with room for another container, the getContainer during the revocation is answered a new one", () =>
      Effect.gen(function*() {
        const { fake, pool, store } = yield* makePausableHarness
        // Taken with no warm set wanted, released with one: a's container returns to it, with room left for one start.
        const container = yield* pool.hold("a", "holder-1", config({ minContainers: 0, maxContainers: 2, stickyCacheSize: 0 }))
        const roomy = config({ minContainers: 1, maxContainers: 2, stickyCacheSize: 0 })
        fake.behaviour.revokeDelay = Duration.seconds(1)
        const leave = yield* Effect.fork(pool.releaseHold("a", "holder-1", roomy))
        while (fake.calls.revokes === 0) yield* Effect.yieldNow()
        const fresh = yield* pool.getContainer("a", roomy)
        yield* TestClock.adjust(Duration.seconds(1))
        expect(yield* Fiber.join(leave)).toEqual({ outcome: "warm", holdersLeft: 0 })
        expect(fresh).not.toBe(container)
        expect(yield* store.lease("a")).toMatchObject({ container: fresh })
        expect(yield* store.slot(container)).toMatchObject({ state: "warm", sessionId: null })
      }))
  })
})
