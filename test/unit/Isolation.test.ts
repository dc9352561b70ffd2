/**
 * Isolation between operations, callers and configs: a shutdown that runs while a tick waits, clients
 * with different configs, a changed container binding, and a health check that fails once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock } from "effect"
import { limits, retryDelay } from "../../src/internal/policy.js"
import { config, makeHarness } from "../support/FakeContainers.js"

describe("isolation", () => {
  describe("shutdown during a tick", () => {
    it.scoped("a tick that waited on a container while shutdown ran refills nothing and disarms", () =>
      Effect.gen(function*() {
        const { alarm, engine, fake, store } = yield* makeHarness
        const cfg = config({ minContainers: 1, healthCheckInterval: 1_000 })
        yield* engine.warmup(undefined, cfg)
        fake.kill(fake.running()[0]!)
        fake.behaviour.statusDelay = Duration.seconds(3)
        yield* TestClock.adjust(Duration.millis(1_000))
        const tick = yield* Effect.fork(engine.tick)
        while (fake.calls.statusChecks === 0) yield* Effect.yieldNow()
        yield* engine.shutdown(cfg)
        const startsAtShutdown = fake.calls.starts
        yield* TestClock.adjust(Duration.seconds(3))
        const report = yield* Fiber.join(tick)
        expect(report).toMatchObject({ refilled: 0, nextAlarm: null })
        expect(fake.calls.starts, "nothing started after shutdown").toBe(startsAtShutdown)
        expect(fake.running()).toEqual([])
        expect(yield* store.snapshot).toEqual({ slots: [], leases: [] })
        expect(yield* alarm.get).toBeNull()
      }))

    it.scoped("a refill the tick was starting when shutdown ran is stopped and never retried", () =>
      Effect.gen(function*() {
        const { alarm, engine, fake, store } = yield* makeHarness
        const cfg = config({ minContainers: 1, startRetries: 2 })
        yield* engine.release("nobody", cfg) // configures the pool without warming it
        fake.behaviour.startDelay = Duration.seconds(5)
        const tick = yield* Effect.fork(engine.tick)
        while (fake.calls.starts === 0) yield* Effect.yieldNow()
        yield* engine.shutdown(cfg)
        yield* TestClock.adjust(Duration.seconds(60))
        yield* Fiber.join(tick)
        yield* engine.settled
        expect(fake.calls.starts, "no retry after shutdown").toBe(1)
        expect(fake.running()).toEqual([])
        expect(yield* store.snapshot).toEqual({ slots: [], leases: [] })
        expect(yield* alarm.get).toBeNull()
        // The next use warms the pool again.
        fake.behaviour.startDelay = Duration.zero
        yield* engine.getContainer("a", cfg)
        yield* engine.settled
        expect(yield* engine.stats(cfg)).toMatchObject({ acquired: 1, warm: 1 })
      }))
  })

  describe("clients with different configs", () => {
    it.scoped("a caller with a short acquireTimeout never ends a lease before another caller's cache grant", () =>
      Effect.gen(function*() {
        const { engine, fake, store } = yield* makeHarness
        const patient = config({ minContainers: 0, acquireTimeout: 60_000 }) // grants 30 s of cache
        const hasty = { ...patient, acquireTimeout: 50 }
        const container = yield* engine.getContainer("s", patient)
        expect(yield* engine.getContainer("s", hasty)).toBe(container)
        expect((yield* store.lease("s"))?.expiresAt).toBe(30_000)
        yield* TestClock.adjust(Duration.seconds(1))
        expect((yield* engine.tick).expired).toBe(0)
        expect(fake.status.get(container)).toBe("healthy")
        expect(yield* engine.getContainer("s", hasty)).toBe(container)
        // Once the grant has run out, the short deadline applies.
        yield* TestClock.adjust(Duration.seconds(29))
        expect((yield* engine.tick).expired).toBe(1)
        expect(fake.status.get(container)).toBe("stopped")
      }))

    it.scoped("acquireTimeout is per call: each lease slides by the timeout of the call that used it", () =>
      Effect.gen(function*() {
        const { engine } = yield* makeHarness
        const long = config({ minContainers: 0, acquireTimeout: 60_000, stickyCacheSize: 0 })
        const short = { ...long, acquireTimeout: 1_000 }
        const a = yield* engine.getContainer("a", long)
        const b = yield* engine.getContainer("b", short)
        yield* TestClock.adjust(Duration.seconds(2))
        expect((yield* engine.tick).expired).toBe(1)
        expect(yield* engine.getContainer("a", short)).toBe(a)
        expect(yield* engine.getContainer("b", short)).not.toBe(b)
      }))

    it.scoped("the cache grant is per call: a caller without a cache records none", () =>
      Effect.gen(function*() {
        const { engine, store } = yield* makeHarness
        const cached = config({ minContainers: 0 })
        yield* engine.getContainer("a", { ...cached, stickyCacheSize: 0 })
        yield* engine.getContainer("b", cached)
        expect((yield* store.lease("a"))?.cachedUntil).toBe(0)
        expect((yield* store.lease("b"))?.cachedUntil).toBeGreaterThan(0)
      }))

    it.scoped("pool settings are per pool, last writer wins: the tick refills to the last caller's minContainers", () =>
      Effect.gen(function*() {
        const { engine } = yield* makeHarness
        const one = config({ minContainers: 1, maxContainers: 5 })
        const three = { ...one, minContainers: 3 }
        yield* engine.warmup(undefined, one)
        yield* engine.stats(three)
        expect((yield* engine.tick).refilled).toBe(2)
        expect(yield* engine.stats(one)).toMatchObject({ warm: 3, config: one })
        // Back to one: the tick starts nothing (and does not trim).
        expect((yield* engine.tick).refilled).toBe(0)
      }))
  })

  describe("a changed containerBinding", () => {
    const before = config({ minContainers: 1, maxContainers: 4, healthCheckInterval: 1_000, stickyCacheSize: 0 })
    const after = { ...before, containerBinding: "OTHER_CONTAINER" }

    it.scoped("old containers are checked and stopped in their own binding; new sessions get the new one", () =>
      Effect.gen(function*() {
        const { engine, fake, otherFake, store } = yield* makeHarness
        const a = yield* engine.getContainer("a", before)
        yield* engine.settled
        expect(fake.running()).toHaveLength(2)
        const b = yield* engine.getContainer("b", after)
        expect(otherFake.running(), "not the old binding's warm container").toContain(b)
        yield* engine.settled
        yield* TestClock.adjust(Duration.millis(1_000))
        yield* engine.tick
        // The old warm container is stopped where it runs; the old lease lives on, checked where it runs.
        expect(fake.running()).toEqual([a])
        expect(yield* engine.getContainer("a", after)).toBe(a)
        expect(yield* engine.release("a", after)).toEqual({ released: true, outcome: "stopped" })
        expect(fake.running()).toEqual([])
        yield* engine.settled
        const tracked = (yield* store.snapshot).slots.map((slot) => slot.container).sort()
        expect(otherFake.running().slice().sort()).toEqual(tracked)
      }))

    it.scoped("a released container of the old binding never rejoins the warm set, even when it is short", () =>
      Effect.gen(function*() {
        const { engine, fake, otherFake } = yield* makeHarness
        const short = { ...before, minContainers: 2, maxContainers: 2 }
        const a = yield* engine.getContainer("a", short)
        yield* engine.settled
        yield* engine.stats({ ...short, containerBinding: "OTHER_CONTAINER" })
        yield* TestClock.adjust(Duration.millis(1_000))
        yield* engine.tick
        expect(otherFake.running()).toHaveLength(1)
        const released = yield* engine.release("a", { ...short, containerBinding: "OTHER_CONTAINER" })
        expect(released).toEqual({ released: true, outcome: "stopped" })
        expect(fake.status.get(a)).toBe("stopped")
      }))
  })

  describe("a failed health check of a leased container", () => {
    const cfg = config({ minContainers: 0, healthCheckInterval: 30_000, acquireTimeout: 600_000 })

    it.scoped("one unanswered check keeps the lease and re-checks soon; a second in a row drops it", () =>
      Effect.gen(function*() {
        const { alarm, engine, fake } = yield* makeHarness
        const a = yield* engine.getContainer("a", cfg)
        // First check: no answer within the status bound.
        fake.behaviour.statusDelay = Duration.seconds(11)
        yield* TestClock.adjust(Duration.seconds(30))
        const first = yield* Effect.fork(engine.tick)
        yield* TestClock.adjust(Duration.millis(limits.statusTimeoutMs))
        expect(yield* Fiber.join(first)).toMatchObject({ dead: 0, nextAlarm: 40_000 + retryDelay(cfg) })
        expect(yield* alarm.get).toBe(40_000 + retryDelay(cfg))
        expect(fake.status.get(a)).toBe("healthy")
        expect(yield* engine.getContainer("a", cfg)).toBe(a)
        // Second check, at the retry: an error. Two in a row: the container is dropped.
        fake.behaviour.statusDelay = Duration.zero
        fake.behaviour.statusFails = true
        yield* TestClock.adjust(Duration.millis(retryDelay(cfg)))
        expect(yield* engine.tick).toMatchObject({ dead: 1 })
        expect(fake.status.get(a)).toBe("stopped")
        fake.behaviour.statusFails = false
        expect(yield* engine.getContainer("a", cfg)).not.toBe(a)
      }))

    it.scoped("a check that answers again resets the count", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const a = yield* engine.getContainer("a", cfg)
        fake.behaviour.statusFails = true
        yield* TestClock.adjust(Duration.seconds(30))
        expect(yield* engine.tick).toMatchObject({ dead: 0 })
        fake.behaviour.statusFails = false
        yield* TestClock.adjust(Duration.millis(retryDelay(cfg)))
        expect(yield* engine.tick).toMatchObject({ dead: 0 })
        fake.behaviour.statusFails = true
        yield* TestClock.adjust(Duration.seconds(30))
        expect(yield* engine.tick).toMatchObject({ dead: 0 })
        expect(yield* engine.getContainer("a", cfg)).toBe(a)
      }))

    it.scoped("a leased container that reports it stopped is dropped at once", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const a = yield* engine.getContainer("a", cfg)
        fake.kill(a)
        yield* TestClock.adjust(Duration.seconds(30))
        expect(yield* engine.tick).toMatchObject({ dead: 1 })
      }))
  })
})
