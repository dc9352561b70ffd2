/**
 * The pool's side of the fence, over the real SQLite store and fake containers that keep a fence as
 * `PooledContainer` does: every lease has its own token, a released container rejoins the warm set only
 * after its fence closed on the old lease, and every stop tells the container why.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock } from "effect"
import { settleBounds } from "../../src/internal/policy.js"
import { config, makeHarness } from "../support/FakeContainers.js"

describe("fencing", () => {
  it.scoped("a release to the warm set revokes the lease first; the next lease's token is newer and ends the old one", () =>
    Effect.gen(function*() {
      const { engine, fake, store } = yield* makeHarness
      const cfg = config({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
      const container = yield* engine.getContainer("a", cfg)
      const tokenA = (yield* store.lease("a"))!.fence
      expect(fake.request(container, tokenA).admitted).toBe(true)
      expect(yield* engine.release("a", cfg)).toEqual({ released: true, outcome: "warm" })
      expect(fake.calls.revokes).toBe(1)
      expect(fake.request(container, tokenA)).toEqual({ admitted: false, reason: "released" })
      expect(yield* engine.getContainer("b", cfg)).toBe(container)
      const tokenB = (yield* store.lease("b"))!.fence!
      expect(tokenB).toBeGreaterThan(tokenA! + 1)
      expect(fake.request(container, tokenB).admitted).toBe(true)
      expect(fake.request(container, tokenA)).toEqual({ admitted: false, reason: "leased-again" })
    }))

  it.scoped("a revocation that never answers: the release settles within its bound and stops the container instead", () =>
    Effect.gen(function*() {
      const { engine, fake, store } = yield* makeHarness
      const cfg = config({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
      const container = yield* engine.getContainer("a", cfg)
      fake.behaviour.hangRevokes = true
      const release = yield* Effect.fork(engine.release("a", cfg))
      yield* TestClock.adjust(Duration.millis(settleBounds.releaseMs))
      expect(yield* Fiber.join(release)).toEqual({ released: true, outcome: "stopped" })
      expect(fake.stopReasons.get(container)).toBe("released")
      expect(fake.request(container, 1)).toEqual({ admitted: false, reason: "released" })
      expect(yield* store.slot(container)).toBeUndefined()
    }))

  it.scoped("a revocation that fails stops the container: it never rejoins the warm set with its fence open", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 1, maxContainers: 2, stickyCacheSize: 0 })
      const container = yield* engine.getContainer("a", cfg)
      yield* engine.settled
      fake.behaviour.revokeFails = true
      // The warm set is short only once the refill is gone: take it, so the release would recycle.
      yield* engine.getContainer("b", cfg)
      expect(yield* engine.release("a", cfg)).toEqual({ released: true, outcome: "stopped" })
      expect(fake.stopReasons.get(container)).toBe("released")
    }))

  it.scoped("two releases of one id while the revocation is under way: one recycles, the other changes nothing", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
      const container = yield* engine.getContainer("a", cfg)
      fake.behaviour.revokeDelay = Duration.seconds(1)
      const releases = yield* Effect.fork(Effect.all([engine.release("a", cfg), engine.release("a", cfg)], { concurrency: 2 }))
      yield* TestClock.adjust(Duration.seconds(1))
      const outcomes = (yield* Fiber.join(releases)).map((result) => result.outcome).sort()
      expect(outcomes).toEqual(["unknown-session", "warm"])
      expect(fake.stopReasons.has(container), "never stopped").toBe(false)
      expect(fake.running()).toEqual([container])
      expect(yield* engine.stats(cfg)).toMatchObject({ warm: 1, acquired: 0, stopping: 0 })
    }))

  it.scoped("while it revokes, a released container serves no one: it counts as warming, leased to no one, until it rejoins", () =>
    Effect.gen(function*() {
      const { engine, fake, store } = yield* makeHarness
      const cfg = config({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
      const container = yield* engine.getContainer("a", cfg)
      fake.behaviour.revokeDelay = Duration.seconds(1)
      const release = yield* Effect.fork(engine.release("a", cfg))
      while (fake.calls.revokes === 0) yield* Effect.yieldNow()
      expect(yield* store.lease("a"), "the lease ended when the release decided").toBeUndefined()
      expect(yield* engine.stats(cfg)).toMatchObject({ warm: 0, acquired: 0, sessions: 0, warming: 1, total: 1 })
      expect(yield* store.slot(container)).toMatchObject({ state: "warming", returningAt: 2 })
      // A tick meanwhile neither takes it for an orphan nor starts a second container for the warm set.
      expect(yield* engine.tick).toMatchObject({ adopted: 0, stopped: 0, refilled: 0 })
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Fiber.join(release)).toEqual({ released: true, outcome: "warm" })
      expect(yield* engine.stats(cfg)).toMatchObject({ warm: 1, acquired: 0, warming: 0, total: 1 })
      expect((yield* engine.stats(cfg)).starts.succeeded, "a return is no start").toBe(1)
      expect(fake.running()).toEqual([container])
    }))

  it.scoped("a shutdown while a release waits on the revocation is not held up by it, and wins", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
      const container = yield* engine.getContainer("a", cfg)
      fake.behaviour.revokeDelay = Duration.seconds(4)
      const release = yield* Effect.fork(engine.release("a", cfg))
      while (fake.calls.revokes === 0) yield* Effect.yieldNow()
      // The revocation runs outside the store's lock: the shutdown settles at once, with no clock advance.
      expect(yield* engine.shutdown(cfg)).toEqual({ stopped: 1 })
      expect(fake.stopReasons.get(container)).toBe("shut-down")
      yield* TestClock.adjust(Duration.seconds(4))
      // The release had ended the lease before the shutdown came; the shutdown stopped its container.
      expect(yield* Fiber.join(release)).toEqual({ released: true, outcome: "stopped" })
      expect(fake.stopReasons.get(container), "stopped once, by the shutdown").toBe("shut-down")
      expect(fake.running()).toEqual([])
      expect(yield* engine.stats(cfg)).toMatchObject({ total: 0 })
    }))

  it.scoped("the last holder out ends the lease as a release does: revoked before it recycles, stopped if it does not answer", () =>
    Effect.gen(function*() {
      const { engine, fake, store } = yield* makeHarness
      const cfg = config({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
      const container = yield* engine.hold("a", "h1", cfg)
      const token = (yield* store.lease("a"))!.fence
      expect(yield* engine.releaseHold("a", "h1", cfg)).toEqual({ outcome: "warm", holdersLeft: 0 })
      expect(fake.request(container, token)).toEqual({ admitted: false, reason: "released" })
      expect(yield* engine.hold("b", "h2", cfg)).toBe(container)
      fake.behaviour.revokeFails = true
      expect(yield* engine.releaseHold("b", "h2", cfg)).toEqual({ outcome: "stopped", holdersLeft: 0 })
      expect(fake.stopReasons.get(container)).toBe("released")
    }))

  it.scoped("every stop tells the container why: expired, shut down, dead", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 0, acquireTimeout: 1_000, healthCheckInterval: 500, stickyCacheSize: 0 })
      const expiring = yield* engine.getContainer("expiring", cfg)
      yield* TestClock.adjust(Duration.millis(1_000))
      yield* engine.tick
      yield* engine.settled
      expect(fake.stopReasons.get(expiring)).toBe("expired")

      const dying = yield* engine.getContainer("dying", cfg)
      fake.kill(dying)
      yield* TestClock.adjust(Duration.millis(500))
      yield* engine.tick
      expect(fake.stopReasons.get(dying)).toBe("dead")

      const noticed = yield* engine.getContainer("noticed", cfg)
      expect(yield* engine.containerStopped(noticed)).toBe(true)
      yield* engine.settled
      expect(fake.stopReasons.get(noticed)).toBe("dead")

      const last = yield* engine.getContainer("last", cfg)
      yield* engine.shutdown(cfg)
      expect(fake.stopReasons.get(last)).toBe("shut-down")
      for (const container of [expiring, dying, noticed, last]) {
        expect(fake.request(container, 99).admitted, `${container} admits nothing`).toBe(false)
      }
    }))

  it.scoped("a warm container of an earlier binding is retired as such", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 1, healthCheckInterval: 500 })
      yield* engine.warmup(undefined, cfg)
      const [old] = fake.running()
      yield* engine.stats(config({ minContainers: 1, healthCheckInterval: 500, containerBinding: "OTHER_CONTAINER" }))
      yield* TestClock.adjust(Duration.millis(500))
      yield* engine.tick
      expect(fake.stopReasons.get(old!)).toBe("retired")
    }))
})
