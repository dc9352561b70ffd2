/**
 * The simulator's clock: virtual time that moves only when told. Moving it wakes the due sleepers in
 * order, synchronously, and lets the woken fibers run before the next one wakes; a hook sees every
 * interval the clock crosses, so the simulator can integrate what runs over time.
 */
import { Clock, Duration, Effect, Scheduler } from "effect"

export interface VirtualClock {
  readonly clock: Clock.Clock
  readonly now: () => number
  /** When the earliest pending sleep ends, if any is pending. */
  readonly nextWake: () => number | undefined
  /** Moves time to `at`, waking every sleep due on the way, in order; `crossing` sees each interval first. */
  readonly advanceTo: (at: number, crossing?: (from: number, to: number) => Effect.Effect<void>) => Effect.Effect<void>
  /** Lets runnable fibers run until none is left to run, without moving time. */
  readonly settle: Effect.Effect<void>
  /** The scheduler the simulation must run on: `settle` watches its queue. */
  readonly scheduler: Scheduler.Scheduler
}

interface Sleeper {
  readonly at: number
  readonly serial: number
  readonly wake: () => void
}

/**
 * Fibers take turns on microtasks only (virtual time needs no real timer), and the tasks waiting for a turn
 * are counted: when none waits, every fiber has reached a wait (a sleep, or a fiber it joins).
 */
class CountingScheduler implements Scheduler.Scheduler {
  queued = 0
  readonly #inner = Scheduler.makeBatched((runBatch) => queueMicrotask(runBatch))
  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]) {
    return this.#inner.shouldYield(fiber)
  }
  scheduleTask(task: Scheduler.Task, priority: number) {
    this.queued++
    this.#inner.scheduleTask(() => {
      this.queued--
      task()
    }, priority)
  }
}

/** A bound on the turns one settle gives, so a fiber that never waits cannot hang the simulation. */
const MAX_TURNS = 100_000

export const makeVirtualClock = (start = 0): VirtualClock => {
  let now = start
  let serial = 0
  const sleepers = new Map<number, Sleeper>()
  const scheduler = new CountingScheduler()
  // Quiet twice in a row: a fiber resumed in the last batch may have queued work of its own.
  const settle = Effect.suspend(() => {
    let quiet = 0
    let turns = 0
    return Effect.whileLoop({
      while: () => quiet < 2 && turns++ < MAX_TURNS,
      body: () => Effect.yieldNow(),
      step: () => void (quiet = scheduler.queued === 0 ? quiet + 1 : 0)
    })
  })

  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(Math.round(now * 1e6)),
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(now * 1e6))),
    sleep: (duration) =>
      Effect.async<void>((resume) => {
        const id = serial++
        sleepers.set(id, { at: now + Duration.toMillis(duration), serial: id, wake: () => resume(Effect.void) })
        return Effect.sync(() => void sleepers.delete(id))
      })
  }

  // Ties wake in the order they were made, so a run is deterministic.
  const earliest = (): Sleeper | undefined => {
    let found: Sleeper | undefined
    for (const sleeper of sleepers.values()) {
      if (found === undefined || sleeper.at < found.at || (sleeper.at === found.at && sleeper.serial < found.serial)) {
        found = sleeper
      }
    }
    return found
  }

  const advanceTo = (at: number, crossing?: (from: number, to: number) => Effect.Effect<void>): Effect.Effect<void> =>
    Effect.gen(function*() {
      yield* settle
      for (;;) {
        const next = earliest()
        if (next === undefined || next.at > at) break
        sleepers.delete(next.serial)
        if (next.at > now) {
          if (crossing !== undefined) yield* crossing(now, next.at)
          now = next.at
        }
        next.wake()
        yield* settle
      }
      if (at > now) {
        if (crossing !== undefined) yield* crossing(now, at)
        now = at
      }
      yield* settle
    })

  return { clock, now: () => now, nextWake: () => earliest()?.at, advanceTo, settle, scheduler }
}
