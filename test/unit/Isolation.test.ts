/**
 * Isolation between operations, callers and configs: a shutdown that runs while a tick waits, clients
 * with different configs, a changed container binding, and a health check that fails once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock } from "effect"
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
})
