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
})
