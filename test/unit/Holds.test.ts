/**
 * Scoped holds on a lease: overlapping holds of one session share its lease, the last live holder out
 * ends it, a holder that never leaves lapses by acquireTimeout, plain getContainer keeps its sliding
 * lease, and an explicit release under holders stops the container rather than handing it on.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { PoolExhausted } from "../../src/Errors.js"
import { config, makeHarness } from "../support/FakeContainers.js"

/** The setup: the pool full (2 of 2), the cache off, `other` holding the second container. */
const fullPool = config({ minContainers: 2, maxContainers: 2, stickyCacheSize: 0 })

describe("holds", () => {
  it.scoped("overlapping holds share one lease: while one remains, no other id gets the container", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      yield* engine.warmup(undefined, fullPool)
      const first = yield* engine.hold("alice", "request-1", fullPool)
      yield* engine.getContainer("other", fullPool)
      expect(yield* engine.hold("alice", "request-2", fullPool)).toBe(first)
      expect(yield* engine.releaseHold("alice", "request-1", fullPool)).toEqual({ outcome: "kept", holdersLeft: 1 })
      expect(yield* Effect.flip(engine.getContainer("bob", fullPool))).toBeInstanceOf(PoolExhausted)
      expect(fake.status.get(first)).toBe("healthy")
      expect((yield* engine.stats(fullPool)).sessions).toBe(2)
      // The last holder out ends the lease; with the cache off and the warm set short, the container is reused.
      expect(yield* engine.releaseHold("alice", "request-2", fullPool)).toEqual({ outcome: "warm", holdersLeft: 0 })
      expect(yield* engine.getContainer("bob", fullPool)).toBe(first)
    }))

  it.scoped("with the default cache, the first holder out does not stop the container under the second", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 1 })
      const container = yield* engine.hold("alice", "request-1", cfg)
      expect(yield* engine.hold("alice", "request-2", cfg)).toBe(container)
      expect((yield* engine.releaseHold("alice", "request-1", cfg)).outcome).toBe("kept")
      yield* engine.settled
      expect(fake.status.get(container)).toBe("healthy")
      expect(yield* engine.releaseHold("alice", "request-2", cfg)).toEqual({ outcome: "stopped", holdersLeft: 0 })
      expect(fake.status.get(container)).toBe("stopped")
    }))

  it.scoped("a holder that never leaves lapses by acquireTimeout, with its lease", () =>
    Effect.gen(function*() {
      const { engine, fake, store } = yield* makeHarness
      const cfg = config({ minContainers: 0, acquireTimeout: 10_000, healthCheckInterval: 1_000, stickyCacheSize: 0 })
      const container = yield* engine.hold("alice", "lost", cfg)
      yield* TestClock.adjust(Duration.millis(9_999))
      expect((yield* engine.tick).expired).toBe(0)
      expect(fake.status.get(container)).toBe("healthy")
      yield* TestClock.adjust(Duration.millis(1))
      expect((yield* engine.tick).expired).toBe(1)
      expect(fake.status.get(container)).toBe("stopped")
      expect(yield* store.liveHolders(container, 0)).toBe(0)
      expect(yield* engine.releaseHold("alice", "lost", cfg)).toEqual({ outcome: "not-held", holdersLeft: 0 })
    }))

  it.scoped("a live holder that renews itself does not lapse; a renewal of a holder the lease lost answers false", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 0, acquireTimeout: 10_000, healthCheckInterval: 1_000, stickyCacheSize: 0 })
      const container = yield* engine.hold("alice", "streaming", cfg)
      yield* TestClock.adjust(Duration.seconds(6))
      expect(yield* engine.renewHold("alice", "streaming", cfg)).toBe(true)
      yield* TestClock.adjust(Duration.seconds(6))
      expect((yield* engine.tick).expired, "12 s after the hold, 6 s after its renewal").toBe(0)
      expect(fake.status.get(container)).toBe("healthy")
      expect(yield* engine.renewHold("alice", "someone-else", cfg)).toBe(false)
      yield* TestClock.adjust(Duration.seconds(4))
      expect((yield* engine.tick).expired).toBe(1)
      expect(yield* engine.renewHold("alice", "streaming", cfg)).toBe(false)
    }))

  it.scoped("a lapsed holder does not keep the lease when the last live holder leaves", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const cfg = config({ minContainers: 0, acquireTimeout: 10_000, stickyCacheSize: 0 })
      const container = yield* engine.hold("alice", "lost", cfg)
      yield* TestClock.adjust(Duration.seconds(5))
      yield* engine.hold("alice", "live", cfg)
      yield* TestClock.adjust(Duration.seconds(6))
      expect(yield* engine.releaseHold("alice", "live", cfg)).toEqual({ outcome: "stopped", holdersLeft: 0 })
      expect(fake.status.get(container)).toBe("stopped")
    }))

  it.scoped("a renewal with a shorter acquireTimeout never ends a lease before its holder's deadline", () =>
    Effect.gen(function*() {
      const { engine, fake } = yield* makeHarness
      const patient = config({ minContainers: 0, acquireTimeout: 60_000, healthCheckInterval: 1_000, stickyCacheSize: 0 })
      const container = yield* engine.hold("alice", "request-1", patient)
      expect(yield* engine.getContainer("alice", { ...patient, acquireTimeout: 50 })).toBe(container)
      yield* TestClock.adjust(Duration.seconds(1))
      expect((yield* engine.tick).expired).toBe(0)
      expect(fake.status.get(container)).toBe("healthy")
    }))

  describe("with plain getContainer", () => {
    it.scoped("a lease getContainer uses keeps sliding: holders leaving never end it", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const cfg = config({ minContainers: 0, acquireTimeout: 10_000, healthCheckInterval: 1_000 })
        const container = yield* engine.getContainer("alice", cfg)
        expect(yield* engine.hold("alice", "request-1", cfg)).toBe(container)
        expect(yield* engine.releaseHold("alice", "request-1", cfg)).toEqual({ outcome: "kept", holdersLeft: 0 })
        expect((yield* engine.stats(cfg)).sessions).toBe(1)
        // It lives by its sliding deadline: getContainer's use at 0 s, the hold's at 0 s.
        yield* TestClock.adjust(Duration.seconds(10))
        expect((yield* engine.tick).expired).toBe(1)
        expect(fake.status.get(container)).toBe("stopped")
      }))

    it.scoped("a getContainer during a hold marks the lease sliding: the last holder out keeps it", () =>
      Effect.gen(function*() {
        const { engine } = yield* makeHarness
        const cfg = config({ minContainers: 0, stickyCacheSize: 0 })
        const container = yield* engine.hold("alice", "request-1", cfg)
        expect(yield* engine.getContainer("alice", cfg)).toBe(container)
        expect((yield* engine.releaseHold("alice", "request-1", cfg)).outcome).toBe("kept")
        expect(yield* engine.getContainer("alice", cfg)).toBe(container)
      }))

    it.scoped("an explicit release under holders ends the lease and stops the container, never reusing it", () =>
      Effect.gen(function*() {
        const { engine, fake } = yield* makeHarness
        const old = yield* engine.hold("alice", "request-1", fullPool)
        // Cache off and the warm set short: without holders this release would return it to the warm set.
        expect(yield* engine.release("alice", fullPool)).toEqual({ released: true, outcome: "stopped" })
        expect(fake.status.get(old)).toBe("stopped")
        const next = yield* engine.hold("alice", "request-2", fullPool)
        expect(next).not.toBe(old)
        // The old holder's leaving names a lease that is gone: the new one is untouched.
        expect(yield* engine.releaseHold("alice", "request-1", fullPool)).toEqual({ outcome: "not-held", holdersLeft: 0 })
        expect(yield* engine.getContainer("alice", fullPool)).toBe(next)
        expect(fake.status.get(next)).toBe("healthy")
      }))
  })
})
