import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock } from "effect"
import { PoolExhausted } from "../../src/Errors.js"
import { PoolRecord, PoolStore } from "../../src/internal/PoolStore.js"
import { classifyStartFailure, quantile } from "../../src/internal/SqliteMetrics.js"
import { migrate } from "../../src/internal/SqlitePoolStore.js"
import { config, makeHarness } from "../support/FakeContainers.js"
import { makeSqlJsStorageSync } from "../support/SqlJsStorage.js"

describe("Metrics", () => {
  it.scoped("counts new sessions served warm, cold-started and refused", () =>
    Effect.gen(function*() {
      const { engine } = yield* makeHarness
      const cfg = config({ minContainers: 1, maxContainers: 2 })
      yield* engine.warmup(undefined, cfg)
      yield* engine.getContainer("warm", cfg) // takes the warm one; its refill starts in the background
      yield* engine.settled
      yield* engine.getContainer("warm", cfg) // sticky: not a new session
      yield* engine.getContainer("second", cfg) // the refill, warm by now; two held, so no further refill
      expect(yield* Effect.flip(engine.getContainer("over", cfg))).toBeInstanceOf(PoolExhausted)
      const stats = yield* engine.stats(cfg)
      expect(stats.newSessions).toEqual({ warm: 2, cold: 0, refused: 1 })
    }))

  it.scoped("counts a cold start as cold, and its start time", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 0 })
      fake.behaviour.startDelay = Duration.millis(1_500)
      const fiber = yield* Effect.fork(engine.getContainer("a", cfg))
      yield* TestClock.adjust(Duration.millis(1_500))
      yield* Fiber.join(fiber)
      const stats = yield* engine.stats(cfg)
      expect(stats.newSessions).toEqual({ warm: 0, cold: 1, refused: 0 })
      expect(stats.starts).toEqual({ succeeded: 1, failed: 0, failedBy: { timeout: 0, platformLimit: 0, other: 0 } })
      expect(stats.startTimeMs).toEqual({ median: 1_500, p95: 1_500, samples: 1 })
    }))

  it.scoped("splits failed starts by cause: timeout, platform limit, other", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 0, startRetries: 2, startupTimeout: 1_000 })
      fake.behaviour.failNextStarts = 1
      fake.behaviour.startFailureReason = "Maximum number of running container instances exceeded"
      const first = yield* Effect.fork(engine.getContainer("a", cfg))
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.join(first)
      fake.behaviour.failNextStarts = 1
      fake.behaviour.startFailureReason = "the image could not be pulled"
      const second = yield* Effect.fork(engine.getContainer("b", cfg))
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.join(second)
      fake.behaviour.hangStarts = true
      const third = yield* Effect.fork(Effect.flip(engine.getContainer("c", config({ ...cfg, startRetries: 0 }))))
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.join(third)
      const stats = yield* engine.stats(cfg)
      expect(stats.starts).toEqual({ succeeded: 2, failed: 3, failedBy: { timeout: 1, platformLimit: 1, other: 1 } })
      expect(stats.startFailures).toBe(3)
    }))

  it.scoped("accrues container-seconds: warm and idle, then leased, in O(1) from the pool row", () =>
    Effect.gen(function*() {
      const { engine } = yield* makeHarness
      const cfg = config({ minContainers: 2, healthCheckInterval: 3_600_000 })
      yield* engine.warmup(undefined, cfg)
      yield* TestClock.adjust(Duration.seconds(10))
      expect((yield* engine.stats(cfg)).containerSeconds).toEqual({ warmIdle: 20, leased: 0 })
      yield* engine.getContainer("a", cfg) // one warm container leased at 10 s; its refill is warm at once
      yield* engine.settled
      yield* TestClock.adjust(Duration.seconds(5))
      // warm: 2 × 10 s, then 1 × 5 s (the other) + 1 × 5 s (the refill); leased: 5 s.
      expect((yield* engine.stats(cfg)).containerSeconds).toEqual({ warmIdle: 30, leased: 5 })
      yield* engine.release("a", cfg)
      yield* TestClock.adjust(Duration.seconds(1))
      const after = (yield* engine.stats(cfg)).containerSeconds
      expect(after.leased).toBe(5)
      expect(after.warmIdle).toBeGreaterThanOrEqual(32)
    }))

  it("start time quantiles use nearest rank over the window", () => {
    expect(quantile([], 0.5)).toBeNull()
    expect(quantile([300, 100, 200], 0.5)).toBe(200)
    expect(quantile(Array.from({ length: 20 }, (_, i) => i + 1), 0.95)).toBe(19)
    expect(quantile([5], 0.95)).toBe(5)
  })

  it("classifies start failures by their reason", () => {
    expect(classifyStartFailure("not ready within startupTimeout (30000 ms)")).toBe("timeout")
    expect(classifyStartFailure("Maximum number of running container instances exceeded")).toBe("platformLimit")
    expect(classifyStartFailure("there is no container instance that can be provided to this durable object")).toBe("platformLimit")
    expect(classifyStartFailure("connection refused")).toBe("other")
  })
})

describe("Metrics migration", () => {
  it("adds the metric columns to tables from before them, starting older slots' time at migration", async () => {
    const storage = makeSqlJsStorageSync()
    try {
      storage.sql.exec(`CREATE TABLE wp_pool (id INTEGER PRIMARY KEY CHECK (id = 1), config TEXT,
        shut_down INTEGER NOT NULL DEFAULT 0, start_failures INTEGER NOT NULL DEFAULT 0,
        warming INTEGER NOT NULL DEFAULT 0, starting INTEGER NOT NULL DEFAULT 0, warm INTEGER NOT NULL DEFAULT 1,
        acquired INTEGER NOT NULL DEFAULT 0, stopping INTEGER NOT NULL DEFAULT 0)`)
      storage.sql.exec(`INSERT INTO wp_pool (id) VALUES (1)`)
      storage.sql.exec(`CREATE TABLE wp_slots (container TEXT PRIMARY KEY, state TEXT NOT NULL, session_id TEXT,
        expires_at INTEGER NOT NULL DEFAULT 0, cached_until INTEGER NOT NULL DEFAULT 0, check_due_at INTEGER) WITHOUT ROWID`)
      storage.sql.exec(`INSERT INTO wp_slots (container, state, check_due_at) VALUES ('old', 'warm', 1)`)
      migrate(storage, 1_000)
      migrate(storage, 5_000) // idempotent: the old slot keeps its start
      const record = PoolRecord.make(storage, () => 11_000)
      const metrics = await Effect.runPromise(record.metrics)
      expect(metrics.containerSeconds).toEqual({ warmIdle: 10, leased: 0 })
      expect(metrics.newSessions).toEqual({ warm: 0, cold: 0, refused: 0 })
      const store = Effect.runSync(PoolStore.make(storage))
      expect(await Effect.runPromise(store.page(null, 10))).toMatchObject([{ container: "old", state: "warm", createdAt: 1_000 }])
    } finally {
      storage.close()
    }
  })
})
