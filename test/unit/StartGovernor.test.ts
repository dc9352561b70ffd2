import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock } from "effect"
import { ContainerStartFailed, PoolExhausted } from "../../src/Errors.js"
import {
  afterFailure,
  afterSuccess,
  breakerState,
  cooldownMs,
  effectiveCap,
  initialState,
  isLimitError,
  limitErrorTexts,
  rateLimitedText
} from "../../src/internal/StartGovernor.js"
import { config, makeHarness } from "../support/FakeContainers.js"

// The exact error of @cloudflare/containers 0.3.7 when no instance is available (its NO_CONTAINER_INSTANCE_ERROR).
const noInstance = "There is no container instance that can be provided to this Durable Object"

describe("StartGovernor", () => {
  describe("its state", () => {
    it("recognises the platform's limit texts, case aside, and not a rate limit", () => {
      expect(isLimitError(noInstance)).toBe(true)
      expect(isLimitError("Maximum number of running container instances exceeded")).toBe(true)
      expect(limitErrorTexts).toHaveLength(3)
      expect(isLimitError(`You are requesting too many containers per second`)).toBe(false)
      expect(rateLimitedText).toBe("you are requesting too many containers per second")
    })

    it("opens after 5 failures in a row, with a cooldown that doubles on each repeat, and one success closes it", () => {
      let s = initialState
      for (let i = 0; i < 4; i++) s = afterFailure(s, "boom", 0, 0)
      expect(breakerState(s, 0)).toBe("closed")
      s = afterFailure(s, "boom", 0, 0)
      expect(breakerState(s, 0)).toBe("open")
      expect(breakerState(s, cooldownMs(1))).toBe("half-open")
      s = afterFailure(s, "boom", 0, cooldownMs(1))
      expect(s.openUntil).toBe(cooldownMs(1) + cooldownMs(2))
      expect(cooldownMs(2)).toBe(2 * cooldownMs(1))
      expect(cooldownMs(30)).toBe(600_000)
      s = afterSuccess(s, 1, 10)
      expect(breakerState(s, 0)).toBe("closed")
      expect(s.trips).toBe(0)
    })

    it("learns a limit from a refused start, probes past it, and raises it when a probe succeeds", () => {
      const limited = afterFailure(initialState, noInstance, 3, 1_000)
      expect(limited.learnedCap).toBe(3)
      expect(limited.failuresInARow).toBe(0)
      expect(effectiveCap(limited, 1_000, 10)).toBe(3)
      expect(effectiveCap(limited, 31_000, 10)).toBe(4)
      const raised = afterSuccess(limited, 4, 10)
      expect(raised.learnedCap).toBe(4)
      expect(effectiveCap(raised, 31_000, 10)).toBe(5)
      expect(afterSuccess(raised, 10, 10).learnedCap).toBeNull()
    })
  })

  describe("in the engine", () => {
    it.scoped("paces every start at maxStartsPerSecond", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 0, maxStartsPerSecond: 2 })
        // Cold starts: the first begins at once, the second waits its turn, 500 ms later.
        yield* engine.getContainer("first", cfg)
        const second = yield* Effect.fork(engine.getContainer("second", cfg))
        yield* TestClock.adjust(Duration.millis(499))
        expect(fake.calls.starts).toBe(1)
        yield* TestClock.adjust(Duration.millis(1))
        yield* Fiber.join(second)
        expect(fake.calls.starts).toBe(2)
        // Refills and warmup alike: one start per 500 ms, never two in one turn.
        const warmup = yield* Effect.fork(engine.warmup(4, cfg))
        const begun: Array<number> = []
        for (let i = 0; i < 4; i++) {
          yield* TestClock.adjust(Duration.millis(500))
          begun.push(fake.calls.starts)
        }
        expect(begun).toEqual([3, 4, 5, 6])
        expect(yield* Fiber.join(warmup)).toEqual({ started: 4, warm: 4 })
      }))

    it.scoped("a limit error caps the pool at what it holds: new sessions get PoolExhausted at once, until a probe succeeds", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 0, maxContainers: 10, startRetries: 0 })
        yield* Effect.forEach(["a", "b", "c"], (id) => engine.getContainer(id, cfg), { discard: true })
        fake.behaviour.failNextStarts = 1
        fake.behaviour.startFailureReason = noInstance
        const refused = yield* Effect.flip(engine.getContainer("d", cfg))
        expect(refused).toBeInstanceOf(ContainerStartFailed)
        expect((yield* engine.stats(cfg)).learnedCap).toBe(3)
        const starts = fake.calls.starts
        const exhausted = yield* Effect.flip(engine.getContainer("e", cfg))
        expect(exhausted).toBeInstanceOf(PoolExhausted)
        expect(exhausted).toMatchObject({ maxContainers: 3, acquired: 3 })
        expect(fake.calls.starts).toBe(starts)
        // The limit went up meanwhile: the next probe succeeds and raises the cap.
        yield* TestClock.adjust(Duration.seconds(30))
        yield* engine.getContainer("f", cfg)
        expect((yield* engine.stats(cfg)).learnedCap).toBe(4)
        yield* engine.getContainer("g", cfg)
        expect((yield* engine.stats(cfg)).learnedCap).toBe(5)
      }))

    it.scoped("the breaker opens after failed starts, fails cold starts fast, pauses refills, cools down and closes", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 0, startRetries: 0 })
        fake.behaviour.failNextStarts = 6
        for (let i = 0; i < 5; i++) yield* Effect.flip(engine.getContainer(`broken-${i}`, cfg))
        expect((yield* engine.stats(cfg)).breaker).toMatchObject({ state: "open", failuresInARow: 5, reopensAt: 10_000 })
        const starts = fake.calls.starts
        const fast = yield* Effect.flip(engine.getContainer("fast", cfg))
        expect(fast).toMatchObject({ _tag: "ContainerStartFailed", attempts: 0 })
        expect((fast as ContainerStartFailed).reason).toContain("circuit breaker is open")
        expect(yield* engine.warmup(2, cfg)).toEqual({ started: 0, warm: 0 })
        expect(fake.calls.starts).toBe(starts)
        // Cooled down: the trial start fails, and the breaker opens again for twice as long.
        yield* TestClock.adjust(Duration.seconds(10))
        yield* Effect.flip(engine.getContainer("trial", cfg))
        expect((yield* engine.stats(cfg)).breaker).toMatchObject({ state: "open", reopensAt: 30_000 })
        yield* TestClock.adjust(Duration.seconds(20))
        expect((yield* engine.stats(cfg)).breaker?.state).toBe("half-open")
        yield* engine.getContainer("healed", cfg)
        expect((yield* engine.stats(cfg)).breaker).toEqual({ state: "closed", failuresInARow: 0, reopensAt: null })
      }))
  })
})
