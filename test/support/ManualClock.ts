/**
 * A clock the model-based test moves by hand. TestClock's `adjust` waits on real timers
 * until every fiber has suspended (milliseconds per move); at ten thousand generated steps
 * that alone takes a minute. Here, moving time wakes the due sleepers in order, synchronously,
 * and lets the woken fibers run on the microtask scheduler.
 */
import { Clock, Duration, Effect } from "effect"

export interface ManualClock {
  readonly clock: Clock.Clock
  readonly now: Effect.Effect<number>
  /** When the earliest pending sleep ends, if any is pending. */
  readonly nextWake: Effect.Effect<number | undefined>
  /** Moves time to `at`, waking every sleep due on the way in order. */
  readonly advanceTo: (at: number) => Effect.Effect<void>
  readonly advance: (ms: number) => Effect.Effect<void>
}

/** Lets runnable fibers take their turns. */
const letFibersRun = Effect.repeatN(Effect.yieldNow(), 7)

export const makeManualClock = (): ManualClock => {
  let now = 0
  let serial = 0
  const sleepers = new Map<number, { readonly at: number; readonly wake: () => void }>()

  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(Math.round(now * 1e6)),
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(now * 1e6))),
    sleep: (duration) =>
      Effect.async<void>((resume) => {
        const id = serial++
        sleepers.set(id, { at: now + Duration.toMillis(duration), wake: () => resume(Effect.void) })
        return Effect.sync(() => void sleepers.delete(id))
      })
  }

  const earliest = () => {
    let found: [number, { readonly at: number; readonly wake: () => void }] | undefined
    for (const entry of sleepers) if (found === undefined || entry[1].at < found[1].at) found = entry
    return found
  }

  const advanceTo = (at: number): Effect.Effect<void> =>
    Effect.gen(function*() {
      yield* letFibersRun
      for (;;) {
        const next = earliest()
        if (next === undefined || next[1].at > at) break
        sleepers.delete(next[0])
        now = Math.max(now, next[1].at)
        next[1].wake()
        yield* letFibersRun
      }
      now = Math.max(now, at)
      yield* letFibersRun
    })

  return {
    clock,
    now: Effect.sync(() => now),
    nextWake: Effect.sync(() => earliest()?.[1].at),
    advanceTo,
    advance: (ms) => Effect.suspend(() => advanceTo(now + ms))
  }
}
