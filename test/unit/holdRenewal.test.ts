import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Scope, TestClock } from "effect"
import { keepHolding } from "../../src/internal/holdRenewal.js"

/** A renewal that counts its calls and answers what the test says. */
const renewal = () => {
  const state = { calls: 0, answer: true as boolean | "fail" }
  const renew = Effect.suspend(() => {
    state.calls++
    return state.answer === "fail" ? Effect.fail("unreachable" as const) : Effect.succeed(state.answer)
  })
  return { state, renew }
}

describe("keepHolding", () => {
  it.effect("renews every interval while the scope is open, and stops when it closes", () =>
    Effect.gen(function*() {
      const { renew, state } = renewal()
      const scope = yield* Scope.make()
      yield* Scope.extend(keepHolding(renew, 1_000), scope)
      yield* TestClock.adjust(Duration.millis(999))
      expect(state.calls).toBe(0)
      yield* TestClock.adjust(Duration.millis(1))
      expect(state.calls).toBe(1)
      yield* TestClock.adjust(Duration.millis(2_000))
      expect(state.calls).toBe(3)
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust(Duration.millis(5_000))
      expect(state.calls).toBe(3)
    }))

  it.scoped("keeps renewing after a failed renewal, and stops once the lease no longer has the holder", () =>
    Effect.gen(function*() {
      const { renew, state } = renewal()
      yield* keepHolding(renew, 1_000)
      state.answer = "fail"
      yield* TestClock.adjust(Duration.millis(1_000))
      expect(state.calls).toBe(1)
      state.answer = false
      yield* TestClock.adjust(Duration.millis(1_000))
      expect(state.calls).toBe(2)
      yield* TestClock.adjust(Duration.millis(5_000))
      expect(state.calls).toBe(2)
    }))
})
