import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { config, makeHarness } from "../support/FakeContainers.js"

describe("Recycling", () => {
  it.scoped("a new revision replaces warm containers and never stops a leased one before its lease ends", () =>
    Effect.gen(function*() {
      const { engine, fake, store } = yield* makeHarness
      const v1 = config({ minContainers: 2, revision: "v1", stickyCacheSize: 0 })
      const v2 = { ...v1, revision: "v2" }
      const leased = yield* engine.getContainer("a", v1)
      yield* engine.settled
      const oldWarm = (yield* store.snapshot).slots.filter((slot) => slot.state === "warm").map((slot) => slot.container)
      expect(oldWarm).toHaveLength(2)
      // The first call with v2 takes no v1 container, and replaces the warm ones at once.
      const fresh = yield* engine.getContainer("b", v2)
      expect(oldWarm).not.toContain(fresh)
      yield* engine.settled
      const { slots } = yield* store.snapshot
      expect(slots.filter((slot) => slot.state === "warm").every((slot) => slot.revision === "v2")).toBe(true)
      expect(slots.filter((slot) => slot.state === "warm")).toHaveLength(2)
      for (const container of oldWarm) expect(fake.status.get(container)).toBe("stopped")
      // "a" keeps its v1 container, running, until it lets go; then it is stopped, never reused.
      expect(yield* engine.getContainer("a", v2)).toBe(leased)
      expect(fake.running()).toContain(leased)
      expect(yield* engine.stats(v2)).toMatchObject({ olderRevision: 1 })
      expect(yield* engine.release("a", v2)).toEqual({ released: true, outcome: "stopped" })
      expect(fake.status.get(leased)).toBe("stopped")
      expect(yield* engine.stats(v2)).toMatchObject({ olderRevision: 0 })
    }))

  it.scoped("maxContainerAge recycles warm containers that old, and leaves a leased one alone", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 2, maxContainerAge: 60_000, healthCheckInterval: 30_000 })
      const leased = yield* engine.getContainer("a", cfg)
      yield* engine.settled
      yield* TestClock.adjust(Duration.seconds(30))
      expect((yield* engine.tick).recycled).toBe(0)
      yield* TestClock.adjust(Duration.seconds(30))
      const report = yield* engine.tick
      expect(report).toMatchObject({ recycled: 2, refilled: 2 })
      expect(fake.running()).toContain(leased)
      expect(yield* engine.getContainer("a", cfg)).toBe(leased)
      yield* engine.settled
      expect(yield* engine.stats(cfg)).toMatchObject({ warm: 2, acquired: 1 })
    }))
})
