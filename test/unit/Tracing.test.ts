import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, HashMap, Logger, TestClock } from "effect"
import { attributes } from "../../src/internal/tracing.js"
import { config, makeHarness } from "../support/FakeContainers.js"
import { makeMemoryTracer } from "../support/MemoryTracer.js"

const shown = [attributes.pool, attributes.outcome, attributes.session]

describe("Tracing", () => {
  it.scoped("a warm assignment: getContainer → assign (warm), with the refill's start under it", () =>
    Effect.gen(function*() {
      const { engine } = yield* makeHarness
      const memory = makeMemoryTracer()
      const cfg = config({ name: "traced", minContainers: 1 })
      yield* engine.warmup(undefined, cfg)
      memory.clear()
      const container = yield* Effect.withTracer(
        Effect.zipLeft(engine.getContainer("alice", cfg), engine.settled),
        memory.tracer
      )
      expect(memory.tree("WarmPool.getContainer", shown)).toEqual([
        "WarmPool.getContainer [warm_pool.name=traced]",
        "  WarmPool.assign [warm_pool.name=traced warm_pool.outcome=warm]",
        "    WarmPool.start [warm_pool.name=traced warm_pool.outcome=started]"
      ])
      const assign = memory.spans.find((s) => s.name === "WarmPool.assign")!
      expect(assign.attributes.get(attributes.container)).toBe(container)
      // Session ids stay out of spans unless the caller opts in.
      expect(memory.spans.some((s) => [...s.attributes.values()].includes("alice"))).toBe(false)
    }))

  it.scoped("a cold start: getContainer → assign (cold) → start of that container; the session id when opted in", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const memory = makeMemoryTracer()
      const cfg = config({ name: "traced", minContainers: 0, traceSessionIds: true })
      fake.behaviour.startDelay = Duration.millis(500)
      const fiber = yield* Effect.fork(Effect.withTracer(engine.getContainer("bob", cfg), memory.tracer))
      yield* TestClock.adjust(Duration.millis(500))
      const container = yield* Fiber.join(fiber)
      expect(memory.tree("WarmPool.getContainer", shown)).toEqual([
        "WarmPool.getContainer [warm_pool.name=traced warm_pool.session_id=bob]",
        "  WarmPool.assign [warm_pool.name=traced warm_pool.outcome=cold]",
        "    WarmPool.start [warm_pool.name=traced warm_pool.outcome=started]"
      ])
      const start = memory.spans.find((s) => s.name === "WarmPool.start")!
      expect(start.attributes.get(attributes.container)).toBe(container)
    }))

  it.scoped("a tick is a span with one child per step, each naming the pool", () =>
    Effect.gen(function*() {
      const { engine } = yield* makeHarness
      const memory = makeMemoryTracer()
      const cfg = config({ name: "ticking", minContainers: 1, healthCheckInterval: 1_000 })
      yield* engine.warmup(undefined, cfg)
      yield* TestClock.adjust(Duration.millis(1_000))
      yield* Effect.withTracer(engine.tick, memory.tracer)
      const lines = memory.tree("WarmPool.tick", [attributes.pool])
      expect(lines[0]).toBe("WarmPool.tick [warm_pool.name=ticking]")
      for (const step of ["due slots", "lease expiry", "orphan repair", "health check", "refill", "re-arm"]) {
        expect(lines).toContain(`  WarmPool.tick ${step} [warm_pool.name=ticking]`)
      }
    }))

  it.scoped("logs carry the pool's name", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const logged: Array<{ message: unknown; pool: unknown }> = []
      const capture = Logger.make(({ annotations, message }) =>
        void logged.push({ message, pool: HashMap.get(annotations, attributes.pool).pipe((o) => o._tag === "Some" ? o.value : undefined) })
      )
      const cfg = config({ name: "logged", minContainers: 0 })
      yield* engine.getContainer("a", cfg)
      fake.behaviour.destroyFails = true
      // Released with a cache grant outstanding: stopped, and the stop fails and is logged.
      yield* engine.release("a", cfg).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      expect(logged.length).toBeGreaterThan(0)
      expect(logged.every((entry) => entry.pool === "logged")).toBe(true)
    }))
})
