import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock } from "effect"
import { arrivalRates, demandSettings, startEstimateMs, warmTarget } from "../../src/internal/Autoscaler.js"
import { config, makeHarness } from "../support/FakeContainers.js"

const on = demandSettings(config({ autoscale: true }))

describe("Autoscaler", () => {
  describe("the warm target", () => {
    it("is minContainers when autoscale is off, whatever the demand", () => {
      const off = demandSettings(config())
      expect(off).toMatchObject({ autoscale: false, idleTimeoutMs: undefined })
      expect(warmTarget({ minContainers: 3, maxContainers: 10 }, off, 1, 10_000)).toBe(3)
    })

    it("covers the arrivals during one start, with headroom, within minContainers and maxContainers", () => {
      // 1 arrival/s × 4 s = 4, plus 2 × √4 = 8.
      expect(warmTarget({ minContainers: 0, maxContainers: 50 }, on, 0.001, 4_000)).toBe(8)
      expect(warmTarget({ minContainers: 0, maxContainers: 5 }, on, 0.001, 4_000)).toBe(5)
      expect(warmTarget({ minContainers: 9, maxContainers: 50 }, on, 0.001, 4_000)).toBe(9)
      expect(warmTarget({ minContainers: 0, maxContainers: 50 }, on, 0, 4_000)).toBe(0)
    })

    it("defaults idleTimeout to 5 minutes with autoscale, and never without", () => {
      expect(on.idleTimeoutMs).toBe(300_000)
      expect(demandSettings(config({ autoscale: true, idleTimeout: 1_000 })).idleTimeoutMs).toBe(1_000)
      expect(demandSettings(config({ idleTimeout: 1_000 })).idleTimeoutMs).toBe(1_000)
    })

    it("follows the panic window in a burst and the stable window otherwise", () => {
      // 12 arrivals in the last 3 s: 2/s over the 6 s panic window, 0.2/s over the 60 s stable one.
      const burst = Array.from({ length: 12 }, (_, i) => 57_000 + i * 250)
      expect(arrivalRates(burst, 60_000, on)).toMatchObject({ panicking: true, rate: 12 / 6_000 })
      // The same arrivals spread over the minute: no burst.
      const spread = Array.from({ length: 12 }, (_, i) => 1 + i * 5_000)
      expect(arrivalRates(spread, 60_000, on)).toMatchObject({ panicking: false, rate: 12 / 60_000 })
      // A lone arrival is no burst.
      expect(arrivalRates([59_999], 60_000, on).panicking).toBe(false)
    })

    it("assumes a start time until one is measured, then averages", () => {
      expect(startEstimateMs([])).toBe(2_000)
      expect(startEstimateMs([1_000, 3_000])).toBe(2_000)
    })
  })

  describe("in the engine", () => {
    const cfg = config({
      autoscale: true,
      minContainers: 2,
      maxContainers: 40,
      idleTimeout: 120_000,
      stickyCacheSize: 0,
      healthCheckInterval: 10_000
    })

    it.scoped("a burst raises the target within the panic window, and idle containers go after idleTimeout, down to the floor", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        fake.behaviour.startDelay = Duration.seconds(2)
        const sessions = Array.from({ length: 12 }, (_, i) => `burst-${i}`)
        const calls: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
        for (const id of sessions) {
          calls.push(yield* Effect.fork(engine.getContainer(id, cfg)))
          yield* TestClock.adjust(Duration.millis(250))
        }
        // 3 s into the burst: 12 arrivals in the 6 s panic window, 2 s assumed per start.
        const during = yield* engine.stats(cfg)
        expect(during.arrivalsPerSecond).toBe(2)
        expect(during.target).toBe(8)
        yield* TestClock.adjust(Duration.seconds(5))
        yield* Effect.forEach(calls, Fiber.join, { discard: true })
        yield* engine.settled
        const grown = yield* engine.stats(cfg)
        expect(grown).toMatchObject({ acquired: 12, warming: 0 })
        expect(grown.warm).toBeGreaterThanOrEqual(8)
        // The burst is over: the target falls as the stable window forgets it.
        yield* TestClock.adjust(Duration.seconds(60))
        expect((yield* engine.stats(cfg)).target).toBe(2)
        yield* Effect.forEach(sessions, (id) => engine.release(id, cfg), { discard: true })
        // Idle about a minute: not yet idleTimeout (2 minutes).
        expect((yield* engine.tick).scaledDown).toBe(0)
        expect((yield* engine.stats(cfg)).warm).toBe(grown.warm)
        yield* TestClock.adjust(Duration.seconds(60))
        const report = yield* engine.tick
        expect(report.scaledDown).toBe(grown.warm - 2)
        expect(yield* engine.stats(cfg)).toMatchObject({ warm: 2, acquired: 0, target: 2 })
        yield* TestClock.adjust(Duration.minutes(10))
        expect((yield* engine.tick).scaledDown).toBe(0)
        expect(fake.running()).toHaveLength(2)
      }))

    it.scoped("the last holder out returns its container to the warm set while the warm target wants it, as a release does", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const demand = config({ autoscale: true, minContainers: 0, maxContainers: 12, stickyCacheSize: 0 })
        fake.behaviour.startDelay = Duration.seconds(2)
        const holds: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
        for (let i = 0; i < 12; i++) {
          holds.push(yield* Effect.fork(engine.hold(`s-${i}`, `holder-${i}`, demand)))
          yield* TestClock.adjust(Duration.millis(100))
        }
        // All 12 reserved their cold starts before the first finished (2 s), and with it the first refill.
        yield* TestClock.adjust(Duration.millis(2_500))
        yield* Effect.forEach(holds, Fiber.join, { discard: true })
        yield* engine.settled
        // Every container is held: the target (12 arrivals in the 6 s panic window, 2 s starts: 8) wants warm
        // ones that capacity does not allow.
        expect(yield* engine.stats(demand)).toMatchObject({ acquired: 12, warm: 0, warming: 0, target: 8 })
        expect(yield* engine.releaseHold("s-0", "holder-0", demand)).toEqual({ outcome: "warm", holdersLeft: 0 })
        expect((yield* engine.stats(demand)).warm).toBe(1)
        // Without autoscale the target is minContainers (0): the next one out is stopped.
        const fixed = config({ minContainers: 0, maxContainers: 12, stickyCacheSize: 0 })
        expect(yield* engine.releaseHold("s-1", "holder-1", fixed)).toEqual({ outcome: "stopped", holdersLeft: 0 })
      }))

    it.scoped("without autoscale, idleTimeout stops warm containers above minContainers, never below", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const fixed = config({ minContainers: 1, idleTimeout: 10_000 })
        yield* engine.warmup(4, fixed)
        expect((yield* engine.stats(fixed)).target).toBe(1)
        yield* TestClock.adjust(Duration.seconds(10))
        expect((yield* engine.tick).scaledDown).toBe(3)
        expect((yield* engine.stats(fixed)).warm).toBe(1)
        yield* TestClock.adjust(Duration.seconds(60))
        expect((yield* engine.tick).scaledDown).toBe(0)
        expect(fake.running()).toHaveLength(1)
      }))

    it.scoped("with neither autoscale nor idleTimeout, warm containers above minContainers stay (as before)", () =>
      Effect.gen(function*() {
        const { engine } = yield* makeHarness
        const fixed = config({ minContainers: 1 })
        yield* engine.warmup(4, fixed)
        yield* TestClock.adjust(Duration.hours(2))
        expect((yield* engine.tick).scaledDown).toBe(0)
        expect((yield* engine.stats(fixed)).warm).toBe(4)
      }))
  })
})
