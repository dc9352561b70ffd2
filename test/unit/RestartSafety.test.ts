/**
 * Restarts, failed stops and storage errors, one at a time: each case is a bug the
 * model-based test found, pinned down so it stays fixed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock } from "effect"
import { config } from "../support/FakeContainers.js"
import { makeWorld } from "../support/RestartableWorld.js"

describe("restart safety", () => {
  it.scoped("a first cold start cut short by a restart is watched by the alarm and repaired", () =>
    Effect.gen(function*() {
      const world = makeWorld()
      yield* world.boot
      world.fake.behaviour.startDelay = Duration.seconds(1)
      const cfg = config({ minContainers: 0, healthCheckInterval: 1_000 })
      yield* Effect.forkDaemon(world.engine.getContainer("a", cfg))
      yield* TestClock.adjust(Duration.millis(10)) // the start is under way
      expect((yield* world.store.counts).starting).toBe(1)
      yield* world.restart
      expect(yield* world.alarm.get, "armed before anything started").not.toBeNull()
      // The container finishes its start on its own; the new instance's tick decides its fate.
      yield* TestClock.adjust(Duration.seconds(1))
      yield* world.alarm.clear
      const report = yield* world.engine.tick
      // Running, but minContainers is 0: stopped rather than adopted.
      expect(report).toMatchObject({ adopted: 0, stopped: 1 })
      yield* world.engine.settled
      expect(yield* world.store.snapshot).toEqual({ slots: [], leases: [] })
      expect(world.fake.running()).toEqual([])
    }))

  it.scoped("a restart while a released container revokes its lease: the next tick stops it, and refills the warm set", () =>
    Effect.gen(function*() {
      const world = makeWorld()
      yield* world.boot
      const cfg = config({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
      const a = yield* world.engine.getContainer("a", cfg)
      world.fake.behaviour.revokeDelay = Duration.seconds(1)
      yield* Effect.forkDaemon(world.engine.release("a", cfg))
      while (world.fake.calls.revokes === 0) yield* Effect.yieldNow()
      yield* world.restart
      // Left on its way back to the warm set, leased to no one, tracked and counted against the cap.
      expect(yield* world.store.slot(a)).toMatchObject({ state: "warming", returningAt: 2 })
      expect(yield* world.store.lease("a")).toBeUndefined()
      expect(yield* world.alarm.get).not.toBeNull()
      yield* world.alarm.clear
      // The new instance cannot know whether it revoked the lease: it is stopped, never adopted as warm.
      expect(yield* world.engine.tick).toMatchObject({ adopted: 0, stopped: 1, refilled: 1 })
      yield* world.engine.settled
      expect(world.fake.stopReasons.get(a)).toBe("released")
      expect(world.fake.running()).not.toContain(a)
      expect(world.fake.running()).toHaveLength(1)
      // The old instance's revocation answers late and changes nothing.
      yield* TestClock.adjust(Duration.seconds(1))
      const { slots } = yield* world.store.snapshot
      expect(slots.map((slot) => [slot.container, slot.state])).toEqual([[world.fake.running()[0], "warm"]])
    }))

  it.scoped("leases survive a restart, and the restarted pool serves the same container", () =>
    Effect.gen(function*() {
      const world = makeWorld()
      yield* world.boot
      const cfg = config({ minContainers: 1 })
      const a = yield* world.engine.getContainer("a", cfg)
      yield* world.restart
      expect(yield* world.engine.getContainer("a", cfg)).toBe(a)
    }))

  it.scoped("a tick cut short after it began leaves the alarm armed", () =>
    Effect.gen(function*() {
      const world = makeWorld()
      yield* world.boot
      const cfg = config({ minContainers: 1, healthCheckInterval: 1_000 })
      yield* world.engine.warmup(undefined, cfg)
      world.fake.behaviour.startDelay = Duration.seconds(10)
      world.fake.kill(world.fake.running()[0]!)
      yield* TestClock.adjust(Duration.millis(1_000))
      yield* world.alarm.clear // the runtime deletes the alarm as it fires
      const tick = yield* Effect.forkDaemon(world.engine.tick)
      yield* TestClock.adjust(Duration.millis(10)) // the tick is refilling
      expect(tick.unsafePoll()).toBeNull()
      yield* world.restart
      expect(yield* world.alarm.get).not.toBeNull()
    }))

  it.scoped("after a shutdown, a restarted pool does not warm up again on its own", () =>
    Effect.gen(function*() {
      const world = makeWorld()
      yield* world.boot
      const cfg = config({ minContainers: 2, healthCheckInterval: 1_000 })
      yield* world.engine.warmup(undefined, cfg)
      world.fake.behaviour.destroyFails = true
      yield* world.engine.shutdown(cfg)
      // The stops failed: the slots stay tracked and the alarm stays armed to retry them.
      expect((yield* world.store.counts).stopping).toBe(2)
      expect(yield* world.alarm.get).not.toBeNull()
      yield* world.restart
      world.fake.behaviour.destroyFails = false
      yield* TestClock.adjust(Duration.millis(1_000))
      yield* world.alarm.clear
      const report = yield* world.engine.tick
      yield* world.engine.settled
      expect(report).toMatchObject({ stopped: 2, refilled: 0, nextAlarm: null })
      expect(world.fake.running()).toEqual([])
      expect(yield* world.store.snapshot).toEqual({ slots: [], leases: [] })
    }))
})

describe("failed stops", () => {
  it.scoped("a container whose destroy fails stays tracked until a tick stops it", () =>
    Effect.gen(function*() {
      const world = makeWorld()
      yield* world.boot
      const cfg = config({ minContainers: 0, healthCheckInterval: 1_000 })
      const a = yield* world.engine.getContainer("a", cfg)
      world.fake.behaviour.destroyFails = true
      expect(yield* world.engine.release("a", cfg)).toEqual({ released: true, outcome: "stopped" })
      expect(world.fake.running()).toEqual([a])
      expect((yield* world.store.slot(a))?.state).toBe("stopping")
      world.fake.behaviour.destroyFails = false
      yield* TestClock.adjust(Duration.millis(1_000))
      expect((yield* world.engine.tick).stopped).toBe(1)
      expect(world.fake.running()).toEqual([])
      expect(yield* world.store.slot(a)).toBeUndefined()
    }))

  it.scoped("a timed-out start whose destroy fails stays tracked, and never counts as warm", () =>
    Effect.gen(function*() {
      const world = makeWorld()
      yield* world.boot
      world.fake.behaviour.startDelay = Duration.seconds(5)
      world.fake.behaviour.destroyFails = true
      const cfg = config({ minContainers: 0, startupTimeout: 1_000, startRetries: 0 })
      const call = yield* Effect.fork(Effect.flip(world.engine.getContainer("a", cfg)))
      yield* TestClock.adjust(Duration.seconds(1))
      expect((yield* Fiber.join(call))._tag).toBe("ContainerStartFailed")
      const { slots } = yield* world.store.snapshot
      expect(slots.map((slot) => slot.state)).toEqual(["stopping"])
    }))
})

describe("storage errors", () => {
  it.scoped("a tick that cannot even read its config still re-arms the alarm", () =>
    Effect.gen(function*() {
      const world = makeWorld()
      yield* world.boot
      const cfg = config({ minContainers: 1 })
      yield* world.engine.warmup(undefined, cfg)
      yield* world.restart // the new instance has no config cached
      world.faults.storageErrors = 1
      yield* world.alarm.clear
      const report = yield* world.engine.tick
      expect(report.failures).toEqual(["tick"])
      expect(yield* world.alarm.get).toBe(report.nextAlarm)
      expect(report.nextAlarm).not.toBeNull()
      const next = yield* world.engine.tick
      expect(next.failures).toEqual([])
    }))
})
