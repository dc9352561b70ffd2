/**
 * Every call the pool makes to a container is bounded in time, so no operation waits on a container
 * that never answers. Each case forks the operation, moves the test clock by the bound it documents,
 * and requires the operation to have settled by then.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Fiber } from "effect"
import { Duration, Effect, Option, TestClock } from "effect"
import { defaults } from "../../src/Config.js"
import { PoolExhausted } from "../../src/Errors.js"
import { limits, retryDelay, settleBounds, startBudgetMs } from "../../src/internal/policy.js"
import { config, makeHarness } from "../support/FakeContainers.js"

/** Moves the clock by `ms` and returns the fiber's result, failing the test if it has not settled by then. */
const settledWithin = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, ms: number) =>
  Effect.gen(function*() {
    yield* TestClock.adjust(Duration.millis(ms))
    const exit = yield* fiber.poll
    expect(Option.isSome(exit), `settled within ${ms} ms`).toBe(true)
    return yield* Option.getOrThrow(exit)
  })

describe("bounds on container calls", () => {
  it("documents bounds that hold with the default config: release and shutdown within 30 s", () => {
    expect(settleBounds.releaseMs).toBeLessThanOrEqual(30_000)
    expect(settleBounds.shutdownMs).toBeLessThanOrEqual(30_000)
    // Three attempts of 30 s, each followed by a 10 s stop of what it began, and two backoffs of at most 6 s.
    expect(startBudgetMs(defaults)).toBe(132_000)
    expect(settleBounds.tickMs).toBe(limits.tickWorkBudgetMs + limits.stopTimeoutMs)
  })

  it.scoped("a release settles within the stop bound when destroy never answers; the slot stays stopping and counts", () =>
    Effect.gen(function*() {
      const { engine, fake, store } = yield* makeHarness
      const cfg = config({ minContainers: 0, maxContainers: 1 })
      const a = yield* engine.getContainer("a", cfg)
      fake.behaviour.hangDestroys = true
      const release = yield* Effect.fork(engine.release("a", cfg))
      expect(yield* settledWithin(release, settleBounds.releaseMs)).toEqual({ released: true, outcome: "stopped" })
      expect((yield* store.slot(a))?.state).toBe("stopping")
      const error = yield* Effect.flip(engine.getContainer("b", cfg))
      expect(error).toBeInstanceOf(PoolExhausted)
      expect(error).toMatchObject({ stopping: 1 })
      // The next tick retries the stop.
      fake.behaviour.hangDestroys = false
      expect(yield* engine.tick).toMatchObject({ stopped: 1 })
      expect(yield* store.slot(a)).toBeUndefined()
      expect(fake.running()).toEqual([])
    }))

  it.scoped("shutdown settles within one stop bound when no container answers, and the tick finishes the stops", () =>
    Effect.gen(function*() {
      const { alarm, engine, fake, store } = yield* makeHarness
      const cfg = config({ minContainers: 2, maxContainers: 4 })
      yield* engine.warmup(undefined, cfg)
      yield* engine.getContainer("a", cfg)
      yield* engine.settled
      fake.behaviour.hangDestroys = true
      const shutdown = yield* Effect.fork(engine.shutdown(cfg))
      expect(yield* settledWithin(shutdown, settleBounds.shutdownMs)).toEqual({ stopped: 3 })
      expect(yield* store.counts).toMatchObject({ stopping: 3 })
      expect(yield* alarm.get, "armed to retry the stops").not.toBeNull()
      fake.behaviour.hangDestroys = false
      yield* engine.tick
      expect(yield* store.snapshot).toEqual({ slots: [], leases: [] })
      expect(fake.running()).toEqual([])
    }))

  it.scoped("a tick settles when destroy and keep-alive never answer: each waits its own bound", () =>
    Effect.gen(function*() {
      const { engine, fake, store } = yield* makeHarness
      const cfg = config({ minContainers: 1, maxContainers: 3, acquireTimeout: 1_000, healthCheckInterval: 1_000 })
      yield* engine.warmup(undefined, cfg)
      const a = yield* engine.getContainer("a", cfg)
      yield* engine.settled
      fake.behaviour.hangDestroys = true
      fake.behaviour.hangKeepAlives = true
      yield* TestClock.adjust(Duration.millis(1_000))
      const tick = yield* Effect.fork(engine.tick)
      const report = yield* settledWithin(tick, limits.stopTimeoutMs + limits.keepAliveTimeoutMs)
      expect(report).toMatchObject({ expired: 1, dead: 0 })
      expect(fake.calls.keepAlives).toBe(1)
      expect((yield* store.slot(a))?.state).toBe("stopping")
      fake.behaviour.hangDestroys = false
      fake.behaviour.hangKeepAlives = false
      yield* engine.tick
      expect(yield* store.slot(a)).toBeUndefined()
    }))

  it.scoped("a tick stops working on containers at its work budget, cleans up, and re-arms soon", () =>
    Effect.gen(function*() {
      const { alarm, engine, fake, store } = yield* makeHarness
      const cfg = config({ minContainers: 1, startupTimeout: 600_000, startRetries: 0 })
      yield* engine.release("nobody", cfg) // configures the pool without warming it
      fake.behaviour.hangStarts = true
      const tick = yield* Effect.fork(engine.tick)
      const report = yield* settledWithin(tick, limits.tickWorkBudgetMs)
      expect(report.failures).toEqual(["work budget"])
      expect(report.nextAlarm).toBe(limits.tickWorkBudgetMs + retryDelay(cfg))
      expect(yield* alarm.get).toBe(report.nextAlarm)
      // The interrupted refill destroyed what it began and freed its slot.
      expect(fake.calls.destroys).toBe(1)
      expect((yield* store.snapshot).slots).toEqual([])
    }))

  it.scoped("a cold start settles within its start budget when starts and destroys never answer", () =>
    Effect.gen(function*() {
      const { engine, fake, store } = yield* makeHarness
      const cfg = config({ minContainers: 0, startupTimeout: 1_000, startRetries: 1 })
      fake.behaviour.hangStarts = true
      fake.behaviour.hangDestroys = true
      const get = yield* Effect.fork(Effect.flip(engine.getContainer("a", cfg)))
      const error = yield* settledWithin(get, startBudgetMs(cfg))
      expect(error).toMatchObject({ _tag: "ContainerStartFailed", attempts: 2 })
      // Its stop went unanswered: the slot stays stopping, counted, for the tick to retry.
      expect(yield* store.counts).toMatchObject({ starting: 0, stopping: 1 })
      fake.behaviour.hangDestroys = false
      fake.behaviour.hangStarts = false
      yield* engine.tick
      expect(yield* store.counts).toMatchObject({ stopping: 0 })
    }))
})
