import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, Fiber, TestClock } from "effect"
import { ContainerStartFailed, InvalidContainerBinding, PoolExhausted } from "../../src/Errors.js"
import { config, leftover, makeHarness } from "../support/FakeContainers.js"
import { recount } from "../support/storeContract.js"

const failure = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)

describe("WarmPoolEngine", () => {
  describe("pre-warm", () => {
    it.scoped("stats is a pure read: it starts nothing and arms nothing", () =>
      Effect.gen(function*() {
        const { alarm, engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 2, healthCheckInterval: 1_000 })
        expect(yield* engine.stats(cfg)).toMatchObject({ warm: 0, warming: 0, total: 0, config: cfg })
        yield* engine.settled
        expect(fake.calls.starts).toBe(0)
        expect(yield* alarm.get).toBeNull()
      }))

    it.scoped("the first assignment arms the alarm and warms toward minContainers", () =>
      Effect.gen(function*() {
        const { alarm, engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 2, healthCheckInterval: 1_000 })
        yield* engine.getContainer("a", cfg)
        expect(yield* engine.stats(cfg)).toMatchObject({ acquired: 1, warming: 2 })
        yield* engine.settled
        expect(yield* engine.stats(cfg)).toMatchObject({ warm: 2, warming: 0, acquired: 1, total: 3 })
        expect(fake.running()).toHaveLength(3)
        expect(yield* alarm.get).toBe(1_000)
      }))

    it.scoped("the alarm keeps the warm set at minContainers", () =>
      Effect.gen(function*() {
        const { alarm, engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 2, healthCheckInterval: 1_000 })
        yield* engine.warmup(undefined, cfg)
        fake.kill(fake.running()[0]!)
        yield* TestClock.adjust(Duration.millis(1_000))
        const report = yield* engine.tick
        expect(report).toMatchObject({ dead: 1, refilled: 1, failures: [] })
        expect((yield* engine.stats(cfg)).warm).toBe(2)
        expect(fake.calls.keepAlives).toBe(1)
        expect(yield* alarm.get).toBe(2_000)
      }))

    it.scoped("arms no alarm while the pool is empty and idle", () =>
      Effect.gen(function*() {
        const { alarm, engine } = yield* makeHarness
        const cfg = config({ minContainers: 0 })
        yield* engine.getContainer("a", cfg)
        expect(yield* alarm.get).not.toBeNull()
        yield* engine.release("a", cfg)
        const report = yield* engine.tick
        expect(report.nextAlarm).toBeNull()
        expect(yield* alarm.get).toBeNull()
      }))
  })

  describe("assignment", () => {
    it.scoped("gives the same id the same container while the lease lives", () =>
      Effect.gen(function*() {
        const { engine } = yield* makeHarness
        const cfg = config({ minContainers: 1 })
        const a = yield* engine.getContainer("a", cfg)
        const again = yield* engine.getContainer("a", cfg)
        const b = yield* engine.getContainer("b", cfg)
        expect(again).toBe(a)
        expect(b).not.toBe(a)
      }))

    it.scoped("serves a new id from the warm set without a start, then refills at once", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 1 })
        yield* engine.warmup(undefined, cfg)
        const warmBefore = fake.running()
        // Starts now take 10 s of test time, which never passes unless the test moves the clock:
        // a start on the request path would block the call.
        fake.behaviour.startDelay = Duration.seconds(10)
        const container = yield* engine.getContainer("a", cfg)
        expect(warmBefore).toContain(container)
        expect(yield* engine.stats(cfg)).toMatchObject({ warm: 0, warming: 1, acquired: 1 })
        yield* TestClock.adjust(Duration.seconds(10))
        yield* engine.settled
        expect(yield* engine.stats(cfg)).toMatchObject({ warm: 1, warming: 0, acquired: 1 })
      }))

    it.scoped("refills the consumed warm slot without waiting for the alarm", () =>
      Effect.gen(function*() {
        const { engine } = yield* makeHarness
        const cfg = config({ minContainers: 2 })
        yield* engine.warmup(undefined, cfg)
        yield* engine.getContainer("a", cfg)
        yield* engine.settled
        expect(yield* engine.stats(cfg)).toMatchObject({ warm: 2, acquired: 1, total: 3 })
      }))

    it.scoped("cold-starts when nothing is warm, within maxContainers", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 0, maxContainers: 2 })
        const a = yield* engine.getContainer("a", cfg)
        const b = yield* engine.getContainer("b", cfg)
        expect([...fake.running()].sort()).toEqual([a, b].sort())
        const error = yield* failure(engine.getContainer("c", cfg))
        expect(error).toBeInstanceOf(PoolExhausted)
        expect(error).toMatchObject({ acquired: 2, warm: 0, warming: 0, maxContainers: 2 })
        expect(error.message).toContain("maxContainers 2")
      }))

    it.scoped("counts warming refills against the cap", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        fake.behaviour.startDelay = Duration.seconds(5)
        const cfg = config({ minContainers: 2, maxContainers: 2 })
        yield* Effect.fork(engine.warmup(undefined, cfg))
        yield* TestClock.adjust(Duration.millis(10)) // two refills now warming
        const error = yield* failure(engine.getContainer("a", cfg))
        expect(error).toMatchObject({ _tag: "PoolExhausted", warming: 2 })
      }))

    it.scoped("starts at most one container for concurrent calls with the same new id", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        fake.behaviour.startDelay = Duration.seconds(1)
        const cfg = config({ minContainers: 0 })
        const fiber = yield* Effect.fork(
          Effect.all(Array.from({ length: 20 }, () => engine.getContainer("same", cfg)), { concurrency: "unbounded" })
        )
        yield* TestClock.adjust(Duration.seconds(1))
        const names = yield* Fiber.join(fiber)
        expect(new Set(names).size).toBe(1)
        expect(fake.calls.starts).toBe(1)
      }))

    it.scoped("records the cache grant of a call that joined another's assignment", () =>
      Effect.gen(function*() {
        const { engine, fake, store } = yield* makeHarness
        fake.behaviour.startDelay = Duration.seconds(1)
        const uncached = config({ minContainers: 1, maxContainers: 2, stickyCacheSize: 0 })
        const cached = { ...uncached, stickyCacheSize: 100 }
        // The uncached call runs the cold start; the cached one joins it and must still be recorded.
        const first = yield* Effect.fork(engine.getContainer("a", uncached))
        yield* TestClock.adjust(Duration.millis(10))
        const joined = yield* Effect.fork(engine.getContainer("a", cached))
        yield* TestClock.adjust(Duration.seconds(1))
        const container = yield* Fiber.join(joined)
        expect(yield* Fiber.join(first)).toBe(container)
        expect((yield* store.lease("a"))?.cachedUntil).toBeGreaterThan(0)
        expect(yield* engine.release("a", uncached)).toEqual({ released: true, outcome: "stopped" })
      }))

    it.scoped("never exceeds maxContainers for concurrent distinct ids", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        fake.behaviour.startDelay = Duration.seconds(1)
        const cfg = config({ minContainers: 1, maxContainers: 3 })
        const fiber = yield* Effect.fork(
          Effect.all(
            Array.from({ length: 50 }, (_, i) => Effect.either(engine.getContainer(`id-${i}`, cfg))),
            { concurrency: "unbounded" }
          )
        )
        yield* TestClock.adjust(Duration.seconds(1))
        const results = yield* Fiber.join(fiber)
        yield* engine.settled
        const won = results.filter(Either.isRight).map((r) => r.right)
        const lost = results.filter(Either.isLeft).map((r) => r.left)
        expect(won.length + lost.length).toBe(50)
        expect(lost.every((e) => e._tag === "PoolExhausted")).toBe(true)
        expect(new Set(won).size).toBe(won.length)
        expect(fake.calls.starts).toBeLessThanOrEqual(3)
        expect(fake.running().length).toBeLessThanOrEqual(3)
        expect(won.length).toBeGreaterThanOrEqual(2)
      }))

    it.scoped("fails with InvalidContainerBinding when the binding is missing", () =>
      Effect.gen(function*() {
        const { engine } = yield* makeHarness
        const error = yield* failure(engine.getContainer("a", config({ containerBinding: "MISSING" })))
        expect(error).toBeInstanceOf(InvalidContainerBinding)
        expect(error.message).toContain("MISSING")
      }))
  })

  describe("release", () => {
    it.scoped("returns the container to a short warm set for reuse, when no client caches it", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        // With one container allowed, no refill can run: the warm set stays short.
        const cfg = config({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
        const a = yield* engine.getContainer("a", cfg)
        expect(yield* engine.release("a", cfg)).toEqual({ released: true, outcome: "warm" })
        expect(fake.running()).toContain(a)
        expect(yield* engine.getContainer("b", cfg)).toBe(a)
      }))

    it.scoped("never hands a container a sticky cache may hold to another id, whoever releases it", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cached = config({ minContainers: 1, maxContainers: 2 })
        const a = yield* engine.getContainer("a", cached)
        // A later caller without a cache cannot lower what was granted.
        const uncached = { ...cached, stickyCacheSize: 0 }
        yield* engine.getContainer("a", uncached)
        expect(yield* engine.release("a", uncached)).toEqual({ released: true, outcome: "stopped" })
        expect(fake.status.get(a)).toBe("stopped")
        yield* engine.settled
        expect(yield* engine.getContainer("b", uncached)).not.toBe(a)
      }))

    it.scoped("stops the container when the warm set is already at minContainers", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 1 })
        const a = yield* engine.getContainer("a", cfg)
        yield* engine.settled
        expect(yield* engine.release("a", cfg)).toEqual({ released: true, outcome: "stopped" })
        expect(fake.status.get(a)).toBe("stopped")
        expect(yield* engine.stats(cfg)).toMatchObject({ warm: 1, acquired: 0, total: 1 })
      }))

    it.scoped("renew slides a live lease and never assigns", () =>
      Effect.gen(function*() {
        const { engine, store } = yield* makeHarness
        const cfg = config({ minContainers: 0, acquireTimeout: 1_000 })
        expect(yield* engine.renew("nobody", cfg)).toBeUndefined()
        expect(yield* engine.stats(cfg)).toMatchObject({ total: 0, sessions: 0 })
        const a = yield* engine.getContainer("a", cfg)
        yield* TestClock.adjust(Duration.millis(600))
        expect(yield* engine.renew("a", cfg)).toBe(a)
        expect((yield* store.lease("a"))?.expiresAt).toBe(1_600)
        yield* TestClock.adjust(Duration.millis(1_000))
        expect(yield* engine.renew("a", cfg)).toBeUndefined()
      }))

    it.scoped("is harmless for an unknown id, and says so", () =>
      Effect.gen(function*() {
        const { engine, store } = yield* makeHarness
        const cfg = config()
        yield* engine.getContainer("a", cfg)
        const before = yield* store.snapshot
        expect(yield* engine.release("nobody", cfg)).toEqual({ released: false, outcome: "unknown-session" })
        expect(yield* store.snapshot).toEqual(before)
      }))
  })

  describe("lease expiry", () => {
    it.scoped("slides with each use and auto-releases after acquireTimeout", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 0, acquireTimeout: 1_000, healthCheckInterval: 500 })
        const a = yield* engine.getContainer("a", cfg)
        yield* TestClock.adjust(Duration.millis(600))
        expect(yield* engine.getContainer("a", cfg)).toBe(a)
        yield* TestClock.adjust(Duration.millis(600))
        expect((yield* engine.tick).expired).toBe(0)
        yield* TestClock.adjust(Duration.millis(400))
        expect((yield* engine.tick).expired).toBe(1)
        expect(fake.status.get(a)).toBe("stopped")
        expect((yield* engine.stats(cfg)).sessions).toBe(0)
      }))

    it.scoped("recycles an expired container: never handed to another id", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 5, maxContainers: 10, acquireTimeout: 1_000 })
        const a = yield* engine.getContainer("a", cfg)
        yield* TestClock.adjust(Duration.millis(1_000))
        // Expired, not yet collected: the holder's next call gets a fresh container.
        const fresh = yield* engine.getContainer("a", cfg)
        expect(fresh).not.toBe(a)
        yield* engine.settled
        expect(fake.status.get(a)).toBe("stopped")
        const others = yield* Effect.forEach(["b", "c", "d"], (id) => engine.getContainer(id, cfg))
        expect(others).not.toContain(a)
      }))

    it.scoped("release of an expired lease stops the container even when the warm set is short", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 1, maxContainers: 1, acquireTimeout: 1_000 })
        const a = yield* engine.getContainer("a", cfg)
        expect((yield* engine.stats(cfg)).warm).toBe(0)
        yield* TestClock.adjust(Duration.millis(1_000))
        expect(yield* engine.release("a", cfg)).toEqual({ released: true, outcome: "stopped" })
        expect(fake.status.get(a)).toBe("stopped")
      }))
  })

  describe("health", () => {
    it.scoped("drops a dead acquired container; its id gets a fresh one", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 1, healthCheckInterval: 1_000 })
        const a = yield* engine.getContainer("a", cfg)
        yield* engine.settled
        fake.kill(a)
        yield* TestClock.adjust(Duration.millis(1_000))
        expect((yield* engine.tick).dead).toBe(1)
        const fresh = yield* engine.getContainer("a", cfg)
        expect(fresh).not.toBe(a)
      }))

    it.scoped("treats a container whose state cannot be read as dead", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 1, healthCheckInterval: 1_000 })
        yield* engine.warmup(undefined, cfg)
        fake.behaviour.statusFails = true
        yield* TestClock.adjust(Duration.millis(1_000))
        const report = yield* engine.tick
        expect(report).toMatchObject({ dead: 1, refilled: 1 })
      }))

    it.scoped("checks only slots whose check is due", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 3, healthCheckInterval: 1_000 })
        yield* engine.warmup(undefined, cfg)
        yield* engine.tick
        expect(fake.calls.statusChecks).toBe(0)
        yield* TestClock.adjust(Duration.millis(1_000))
        yield* engine.tick
        expect(fake.calls.statusChecks).toBe(3)
        yield* engine.tick
        expect(fake.calls.statusChecks).toBe(3)
      }))

    it.scoped("re-arms the alarm when a step fails, and the next tick repairs", () =>
      Effect.gen(function*() {
        const { alarm, engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 1, healthCheckInterval: 30_000, startRetries: 0 })
        yield* engine.warmup(undefined, cfg)
        fake.kill(fake.running()[0]!)
        fake.behaviour.failNextStarts = 100
        yield* TestClock.adjust(Duration.millis(30_000))
        const failed = yield* engine.tick
        expect(failed.nextAlarm).not.toBeNull()
        expect(yield* alarm.get).toBe(failed.nextAlarm)
        fake.behaviour.failNextStarts = 0
        yield* engine.tick
        expect((yield* engine.stats(cfg)).warm).toBe(1)
      }))
  })

  describe("startup", () => {
    it.scoped("times out a start after startupTimeout and tears the container down", () =>
      Effect.gen(function*() {
        const { engine, fake, store } = yield* makeHarness
        fake.behaviour.hangStarts = true
        const cfg = config({ minContainers: 0, startupTimeout: 1_000, startRetries: 0 })
        const fiber = yield* Effect.fork(Effect.flip(engine.getContainer("a", cfg)))
        yield* TestClock.adjust(Duration.millis(1_000))
        const error = yield* Fiber.join(fiber)
        expect(error).toBeInstanceOf(ContainerStartFailed)
        expect(error.message).toMatch(/startupTimeout/)
        expect(fake.calls.destroys).toBe(1)
        expect((yield* store.snapshot).slots).toEqual([])
        expect((yield* engine.stats(cfg)).startFailures).toBe(1)
      }))

    it.scoped("retries failed starts with backoff and counts the failures", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        fake.behaviour.failNextStarts = 2
        const cfg = config({ minContainers: 0, startRetries: 2 })
        const fiber = yield* Effect.fork(engine.getContainer("a", cfg))
        yield* TestClock.adjust(Duration.seconds(1))
        const a = yield* Fiber.join(fiber)
        expect(fake.running()).toEqual([a])
        expect(fake.calls.starts).toBe(3)
        expect((yield* engine.stats(cfg)).startFailures).toBe(2)
      }))

    it.scoped("gives up after startRetries and leaves nothing behind", () =>
      Effect.gen(function*() {
        const { engine, fake, store } = yield* makeHarness
        fake.behaviour.failNextStarts = 10
        const cfg = config({ minContainers: 0, startRetries: 1 })
        const fiber = yield* Effect.fork(Effect.flip(engine.getContainer("a", cfg)))
        yield* TestClock.adjust(Duration.seconds(10))
        const error = yield* Fiber.join(fiber)
        expect(error).toMatchObject({ _tag: "ContainerStartFailed", attempts: 2 })
        expect((yield* store.snapshot).slots).toEqual([])
      }))

    it.scoped("an interrupted start destroys its container and frees its slot", () =>
      Effect.gen(function*() {
        const { engine, fake, store } = yield* makeHarness
        fake.behaviour.startDelay = Duration.seconds(5)
        const cfg = config({ minContainers: 0 })
        const fiber = yield* Effect.fork(engine.getContainer("a", cfg))
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Fiber.interrupt(fiber)
        expect(fake.calls.destroys).toBe(1)
        expect((yield* store.snapshot).slots).toEqual([])
      }))
  })

  describe("warmup", () => {
    it.scoped("starts up to count more, capped by maxContainers, and resolves when warm", () =>
      Effect.gen(function*() {
        const { engine } = yield* makeHarness
        const cfg = config({ minContainers: 0, maxContainers: 3 })
        yield* engine.getContainer("a", cfg)
        expect(yield* engine.warmup(5, cfg)).toEqual({ started: 2, warm: 2 })
        expect(yield* engine.warmup(1, cfg)).toEqual({ started: 0, warm: 2 })
      }))

    it.scoped("fails with a typed error when starts fail", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        fake.behaviour.failNextStarts = 1
        const cfg = config({ minContainers: 0, startRetries: 0 })
        const error = yield* failure(engine.warmup(2, cfg))
        expect(error).toBeInstanceOf(ContainerStartFailed)
        expect(error.message).toContain("1 of 2 warmup starts failed")
        expect((yield* engine.stats(cfg)).warm).toBe(1)
      }))
  })

  describe("shutdown", () => {
    it.scoped("stops every container, clears leases and the alarm; re-warms on next use", () =>
      Effect.gen(function*() {
        const { alarm, engine, fake, store } = yield* makeHarness
        const cfg = config({ minContainers: 2 })
        yield* engine.warmup(undefined, cfg)
        yield* engine.getContainer("a", cfg)
        fake.behaviour.hangStarts = true
        yield* Effect.fork(engine.getContainer("b", config({ minContainers: 2 })))
        yield* Effect.yieldNow()
        fake.behaviour.hangStarts = false
        const result = yield* engine.shutdown(cfg)
        expect(result.stopped).toBeGreaterThanOrEqual(3)
        expect(fake.running()).toEqual([])
        expect(yield* store.snapshot).toEqual({ slots: [], leases: [] })
        expect(yield* alarm.get).toBeNull()
        yield* engine.tick
        expect(yield* alarm.get).toBeNull()
        yield* engine.getContainer("c", cfg)
        yield* engine.settled
        expect(yield* engine.stats(cfg)).toMatchObject({ warm: 2, acquired: 1 })
        expect(yield* alarm.get).not.toBeNull()
      }))
  })

  describe("repair", () => {
    it.scoped("adopts running orphans left mid-start by an earlier instance and stops dead ones", () =>
      Effect.gen(function*() {
        const { engine, fake, store } = yield* makeHarness
        const cfg = config({ minContainers: 1 })
        yield* engine.release("nobody", cfg) // stores the config without warming anything
        const [alive, dead] = ["orphan-1", "orphan-2"]
        yield* store.reserve([leftover(alive!), leftover(dead!)])
        fake.status.set(alive!, "healthy")
        const report = yield* engine.tick
        expect(report).toMatchObject({ adopted: 1, stopped: 1, refilled: 0 })
        expect((yield* store.slot(alive!))?.state).toBe("warm")
        expect(yield* store.slot(dead!)).toBeUndefined()
      }))

    it.scoped("a new instance's first call runs the repairing tick at once when it finds leftovers", () =>
      Effect.gen(function*() {
        const { alarm, reboot, store } = yield* makeHarness
        const cfg = config({ minContainers: 1, healthCheckInterval: 60_000 })
        yield* store.reserve([leftover("left-by-an-earlier-instance")])
        yield* alarm.set(45_000) // what the earlier instance had armed
        yield* TestClock.adjust(Duration.millis(1_000))
        const engine = yield* reboot
        yield* engine.warmup(0, cfg)
        expect(yield* alarm.get).toBe(1_000)
      }))

    it.scoped("a new instance with nothing left over keeps the alarm it finds", () =>
      Effect.gen(function*() {
        const { alarm, reboot } = yield* makeHarness
        yield* alarm.set(45_000)
        const engine = yield* reboot
        yield* engine.getContainer("a", config({ minContainers: 0 }))
        expect(yield* alarm.get).toBe(45_000)
      }))

    it.scoped("stops running orphans past minContainers instead of overfilling the warm set", () =>
      Effect.gen(function*() {
        const { engine, fake, store } = yield* makeHarness
        const cfg = config({ minContainers: 1 })
        yield* engine.release("nobody", cfg)
        const orphans = ["orphan-1", "orphan-2", "orphan-3"]
        const cold = "orphan-cold"
        yield* store.reserve([...orphans.map((name) => leftover(name)), leftover(cold, "starting", "s")])
        for (const name of [...orphans, cold!]) fake.status.set(name, "healthy")
        const report = yield* engine.tick
        expect(report).toMatchObject({ adopted: 1, stopped: 3 })
        expect(yield* store.counts).toMatchObject({ warm: 1, warming: 0, starting: 0, stopping: 0 })
        expect(fake.running()).toHaveLength(1)
      }))

    it.scoped("containerStopped drops the slot at once", () =>
      Effect.gen(function*() {
        const { engine, store } = yield* makeHarness
        const cfg = config({ minContainers: 0 })
        const a = yield* engine.getContainer("a", cfg)
        expect(yield* engine.containerStopped(a)).toBe(true)
        yield* engine.settled
        expect(yield* store.slot(a)).toBeUndefined()
        expect(yield* store.lease("a")).toBeUndefined()
        expect(yield* engine.containerStopped(a)).toBe(false)
      }))
  })

  it.scoped("containerStopped names a container by its Durable Object id, which is its name, after a restart too", () =>
    Effect.gen(function*() {
      const { engine: first, reboot, store } = yield* makeHarness
      const cfg = config({ minContainers: 0 })
      const a = yield* first.getContainer("a", cfg)
      const b = yield* first.getContainer("b", cfg)
      const engine = yield* reboot
      // Unknown ids change nothing.
      expect(yield* engine.containerStopped("nobody")).toBe(false)
      expect(yield* engine.containerStopped(a)).toBe(true)
      yield* engine.settled
      expect((yield* store.snapshot).slots.map((slot) => slot.container)).toEqual([b])
    }))

  it.scoped("stats equal a recount of the stored rows", () =>
    Effect.gen(function*() {
      const { engine, store } = yield* makeHarness
      const cfg = config({ minContainers: 2 })
      yield* Effect.forEach(["a", "b", "c"], (id) => engine.getContainer(id, cfg))
      yield* engine.release("b", cfg)
      yield* engine.settled
      const counts = yield* store.counts
      expect(counts).toEqual(yield* recount(store))
      const exit = yield* Effect.exit(engine.getContainer("a", cfg))
      expect(Exit.isSuccess(exit)).toBe(true)
    }))
})
