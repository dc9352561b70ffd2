/**
 * The alarm tick's steps, each on its own: lease expiry, orphan repair, health checks and
 * re-arming. Each runs against the real SQLite store (sql.js), a memory alarm and fake containers,
 * after a call through the pool's facade has configured the pool.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer, TestClock } from "effect"
import { Maintenance } from "../../src/internal/Maintenance.js"
import { memoryBackend, PoolAlarm } from "../../src/internal/PoolAlarm.js"
import { PoolStore } from "../../src/internal/PoolStore.js"
import { config, fakeDriver, leftover, makeFakeContainers } from "../support/FakeContainers.js"
import { buildPool, poolUnderTest } from "../support/PoolUnderTest.js"
import { makeSqlJsStorageSync } from "../support/SqlJsStorage.js"

/** Like `makeHarness`, with the `Maintenance` service itself at hand. */
const makeTickHarness = Effect.gen(function*() {
  const fake = makeFakeContainers()
  const storage = makeSqlJsStorageSync()
  yield* Effect.addFinalizer(() => Effect.sync(() => storage.close()))
  const context = yield* buildPool(
    Layer.mergeAll(PoolStore.layer(storage), fakeDriver(fake), PoolAlarm.layer(memoryBackend()))
  )
  return {
    pool: poolUnderTest(context),
    maintenance: Context.get(context, Maintenance),
    store: Context.get(context, PoolStore),
    alarm: Context.get(context, PoolAlarm),
    fake
  }
})

const terms = (expiresAt: number) => ({ expiresAt, cachedUntil: 0 })

describe("Maintenance", () => {
  describe("expireStep", () => {
    it.scoped("ends only the leases that lapsed by `at`, and stops their containers", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 0, acquireTimeout: 1_000, healthCheckInterval: 300 })
        const a = yield* pool.getContainer("a", cfg) // expires at 1,000; checks due at 300
        yield* TestClock.adjust(Duration.millis(500))
        const b = yield* pool.getContainer("b", cfg) // expires at 1,500; check due at 800
        yield* TestClock.adjust(Duration.millis(500))
        const due = yield* store.dueForCheck(1_000, 256)
        // Both are due for a health check; only a's lease lapsed.
        expect(due.map((slot) => slot.container).sort()).toEqual([a, b].sort())

        const expired = yield* maintenance.expireStep(due, 1_000)

        expect(expired).toEqual([a])
        expect(yield* store.lease("a")).toBeUndefined()
        expect(yield* store.slot(a), "stopped and forgotten").toBeUndefined()
        expect(yield* store.lease("b")).toMatchObject({ container: b, expiresAt: 1_500 })
        expect(fake.running()).toEqual([b])
        expect(yield* store.counts).toMatchObject({ acquired: 1, stopping: 0 })
      }))

    it.scoped("skips a lease renewed after the page of due slots was read", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 0, acquireTimeout: 1_000, healthCheckInterval: 10_000 })
        const a = yield* pool.getContainer("a", cfg)
        yield* TestClock.adjust(Duration.millis(1_000))
        const due = yield* store.dueForCheck(1_000, 256)
        // The page says the lease lapsed...
        expect(due).toEqual([expect.objectContaining({ container: a, state: "acquired", expiresAt: 1_000 })])
        // ...but its session renews it before the step runs.
        expect(yield* store.renewLease("a", a, terms(2_000))).toBe(true)

        const expired = yield* maintenance.expireStep(due, 1_000)

        expect(expired).toEqual([])
        expect(yield* store.lease("a")).toMatchObject({ container: a, expiresAt: 2_000 })
        expect(fake.running()).toEqual([a])
        expect(fake.calls.destroys).toBe(0)
      }))

    it.scoped("leaves an expired container stopping when its destroy fails, for a later tick", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 0, acquireTimeout: 1_000, healthCheckInterval: 10_000 })
        const a = yield* pool.getContainer("a", cfg)
        yield* TestClock.adjust(Duration.millis(1_000))
        const due = yield* store.dueForCheck(1_000, 256)
        fake.behaviour.destroyFails = true

        expect(yield* maintenance.expireStep(due, 1_000)).toEqual([a])

        expect(yield* store.lease("a")).toBeUndefined()
        expect(yield* store.slot(a)).toMatchObject({ state: "stopping", sessionId: null, checkDueAt: null })
        expect(fake.calls.destroys).toBe(1)
      }))
  })

  describe("healthStep", () => {
    it.scoped("retires dead containers and keeps live warm ones alive, rescheduling their checks", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 2, healthCheckInterval: 1_000 })
        yield* pool.warmup(undefined, cfg)
        const [dead, live] = fake.running()
        fake.kill(dead!)
        yield* TestClock.adjust(Duration.millis(1_000))
        const due = yield* store.dueForCheck(1_000, 256)
        expect(due).toHaveLength(2)

        expect(yield* maintenance.healthStep(due, 1_000, cfg)).toEqual({ dead: 1, rechecks: 0 })

        expect(yield* store.slot(dead!), "retired and forgotten").toBeUndefined()
        expect(fake.calls.destroys).toBe(1)
        expect(fake.calls.keepAlives).toBe(1)
        expect(yield* store.slot(live!)).toMatchObject({ state: "warm", checkDueAt: 2_000 })
        expect(yield* store.counts).toMatchObject({ warm: 1, stopping: 0 })
      }))

    it.scoped("never schedules an acquired slot's check after its lease's deadline, nor keeps it alive", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 1, acquireTimeout: 1_500, healthCheckInterval: 1_000 })
        yield* pool.warmup(undefined, cfg)
        const a = yield* pool.getContainer("a", cfg) // the warm one: expires at 1,500
        yield* pool.settled // its refill is warm, check due at 1,000
        const [warm] = fake.running().filter((name) => name !== a)
        yield* TestClock.adjust(Duration.millis(1_000))
        const due = yield* store.dueForCheck(1_000, 256)
        expect(due.map((slot) => slot.state).sort()).toEqual(["acquired", "warm"])

        expect(yield* maintenance.healthStep(due, 1_000, cfg)).toEqual({ dead: 0, rechecks: 0 })

        expect(yield* store.slot(a)).toMatchObject({ state: "acquired", expiresAt: 1_500, checkDueAt: 1_500 })
        expect(yield* store.slot(warm!)).toMatchObject({ state: "warm", checkDueAt: 2_000 })
        expect(fake.calls.keepAlives, "only the warm container is kept alive").toBe(1)
      }))

    it.scoped("counts a container whose status cannot be read as dead", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 1, healthCheckInterval: 1_000 })
        yield* pool.warmup(undefined, cfg)
        const [warm] = fake.running()
        yield* TestClock.adjust(Duration.millis(1_000))
        const due = yield* store.dueForCheck(1_000, 256)
        fake.behaviour.statusFails = true

        expect(yield* maintenance.healthStep(due, 1_000, cfg)).toEqual({ dead: 1, rechecks: 0 })

        expect(yield* store.slot(warm!)).toBeUndefined()
        expect(fake.calls.keepAlives).toBe(0)
      }))
  })

  describe("repairStep", () => {
    it.scoped("adopts running orphans only while the warm set is short, and stops the rest", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 1, healthCheckInterval: 1_000 })
        yield* pool.stats(cfg) // configures the pool; starts nothing
        yield* store.reserve([leftover("orphan-1"), leftover("orphan-2")])
        fake.status.set("orphan-1", "healthy")
        fake.status.set("orphan-2", "healthy")

        expect(yield* maintenance.repairStep(500, cfg)).toEqual({ adopted: 1, stopped: 1 })

        const { slots } = yield* store.snapshot
        expect(slots).toEqual([expect.objectContaining({ state: "warm", checkDueAt: 1_500 })])
        expect(fake.running()).toEqual([slots[0]!.container])
        expect(fake.calls.starts).toBe(0)
      }))

    it.scoped("stops a running orphan when the warm set is already full", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 1 })
        yield* pool.warmup(undefined, cfg)
        const [warm] = fake.running()
        yield* store.reserve([leftover("orphan")])
        fake.status.set("orphan", "healthy")

        expect(yield* maintenance.repairStep(0, cfg)).toEqual({ adopted: 0, stopped: 1 })

        expect(yield* store.slot("orphan")).toBeUndefined()
        expect(fake.running()).toEqual([warm])
      }))

    it.scoped("adopts a running cold start left for a session as a plain warm container", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 1, healthCheckInterval: 1_000 })
        yield* pool.stats(cfg)
        yield* store.reserve([leftover("cold", "starting", "s")])
        fake.status.set("cold", "healthy")

        expect(yield* maintenance.repairStep(0, cfg)).toEqual({ adopted: 1, stopped: 0 })

        expect(yield* store.slot("cold")).toMatchObject({ state: "warm", sessionId: null, checkDueAt: 1_000 })
        expect(yield* store.lease("s"), "the session got no lease from it").toBeUndefined()
      }))

    it.scoped("stops dead orphans even while the warm set is short", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 2 })
        yield* pool.stats(cfg)
        yield* store.reserve([leftover("dead"), leftover("dead-cold", "starting", "s")])
        fake.status.set("dead", "stopped_with_code")

        expect(yield* maintenance.repairStep(0, cfg)).toEqual({ adopted: 0, stopped: 2 })

        expect(yield* store.snapshot).toEqual({ slots: [], leases: [] })
        expect(fake.calls.destroys).toBe(2)
      }))

    it.scoped("retries the stop of a `stopping` orphan until its destroy succeeds", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 1 })
        yield* pool.stats(cfg)
        yield* store.reserve([leftover("left")])
        yield* store.markStopping("left")
        fake.status.set("left", "healthy")
        fake.behaviour.destroyFails = true

        expect(yield* maintenance.repairStep(0, cfg)).toEqual({ adopted: 0, stopped: 1 })
        expect(yield* store.slot("left"), "kept for the next tick").toMatchObject({ state: "stopping" })
        expect(fake.running()).toEqual(["left"])

        fake.behaviour.destroyFails = false
        expect(yield* maintenance.repairStep(0, cfg)).toEqual({ adopted: 0, stopped: 1 })
        expect(yield* store.slot("left")).toBeUndefined()
        expect(fake.running()).toEqual([])
        expect(fake.calls.destroys).toBe(2)
      }))

    it.scoped("ignores containers this instance is still starting", () =>
      Effect.gen(function*() {
        const { fake, maintenance, pool, store } = yield* makeTickHarness
        const cfg = config({ minContainers: 1, healthCheckInterval: 1_000 })
        fake.behaviour.startDelay = Duration.seconds(10)
        const warmup = yield* Effect.fork(pool.warmup(undefined, cfg))
        yield* TestClock.adjust(Duration.millis(10))
        const [starting] = yield* store.inState("warming", 10)
        expect(starting).toBeDefined()
        // Not yet running: were it taken for an orphan, it would count as dead and be stopped.
        expect(fake.running()).toEqual([])

        expect(yield* maintenance.repairStep(10, cfg)).toEqual({ adopted: 0, stopped: 0 })

        expect(yield* store.slot(starting!.container)).toMatchObject({ state: "warming" })
        expect(fake.calls.statusChecks).toBe(0)
        expect(fake.calls.destroys).toBe(0)
        yield* TestClock.adjust(Duration.seconds(10))
        expect(yield* Fiber.join(warmup)).toEqual({ started: 1, warm: 1 })
        expect(fake.running()).toEqual([starting!.container])
      }))
  })

  describe("rearm", () => {
    it.scoped("disarms an idle pool whose minContainers is 0", () =>
      Effect.gen(function*() {
        const { alarm, maintenance, pool } = yield* makeTickHarness
        const cfg = config({ minContainers: 0 })
        yield* pool.stats(cfg)
        yield* alarm.set(123)

        expect(yield* maintenance.rearm(cfg, false, false, false)).toBeNull()
        expect(yield* alarm.get).toBeNull()
      }))

    it.scoped("disarms a shut-down pool that holds nothing, whatever its minContainers", () =>
      Effect.gen(function*() {
        const { alarm, maintenance, pool } = yield* makeTickHarness
        const cfg = config({ minContainers: 2, healthCheckInterval: 1_000 })
        yield* pool.stats(cfg)
        yield* alarm.set(123)

        expect(yield* maintenance.rearm(cfg, false, false, true)).toBeNull()
        expect(yield* alarm.get).toBeNull()
        // Not shut down, the same empty pool must stay armed to warm up.
        expect(yield* maintenance.rearm(cfg, false, false, false)).toBe(1_000)
        expect(yield* alarm.get).toBe(1_000)
      }))

    it.scoped("stays armed while the pool holds any container, even with minContainers 0 or shut down", () =>
      Effect.gen(function*() {
        const { alarm, maintenance, pool } = yield* makeTickHarness
        const cfg = config({ minContainers: 0, healthCheckInterval: 1_000 })
        yield* pool.getContainer("a", cfg)
        yield* TestClock.adjust(Duration.millis(250))

        expect(yield* maintenance.rearm(cfg, false, false, false)).toBe(1_250)
        expect(yield* alarm.get).toBe(1_250)
        yield* alarm.clear
        expect(yield* maintenance.rearm(cfg, false, false, true)).toBe(1_250)
        expect(yield* alarm.get).toBe(1_250)
      }))

    it.scoped("arms at healthCheckInterval, at retryDelay when a step failed, and at once on a backlog", () =>
      Effect.gen(function*() {
        const { alarm, maintenance, pool } = yield* makeTickHarness
        const cfg = config({ minContainers: 1, healthCheckInterval: 30_000 })
        yield* pool.stats(cfg)
        yield* TestClock.adjust(Duration.millis(7_000))

        expect(yield* maintenance.rearm(cfg, false, false, false)).toBe(37_000)
        expect(yield* alarm.get).toBe(37_000)
        expect(yield* maintenance.rearm(cfg, true, false, false)).toBe(12_000) // retryDelay: 5 s
        expect(yield* alarm.get).toBe(12_000)
        expect(yield* maintenance.rearm(cfg, false, true, false)).toBe(7_000)
        expect(yield* alarm.get).toBe(7_000)
        expect(yield* maintenance.rearm(cfg, true, true, false), "a backlog wins over a retry").toBe(7_000)
        // retryDelay is never later than the next check would be.
        const quick = config({ minContainers: 1, healthCheckInterval: 2_000 })
        expect(yield* maintenance.rearm(quick, true, false, false)).toBe(9_000)
        expect(yield* alarm.get).toBe(9_000)
      }))
  })
})
