/**
 * The alarm tick, step by step: expire leases, repair orphans, check health, refill, re-arm.
 * Each step is its own effect, so it can be tested alone; a failed step is reported and the
 * alarm retries soon, while the steps after it still run.
 */
import { Clock, Context, Duration, Effect, Layer, Option, Ref } from "effect"
import type { WarmPoolConfig } from "../Config.js"
import { Lifecycle } from "./Lifecycle.js"
import type { Probe, Slot, SlotState } from "./policy.js"
import { adoptOrphan, checkOutcome, isAlive, isCurrentBinding, limits, retryDelay, totalContainers } from "./policy.js"
import { PoolAlarm } from "./PoolAlarm.js"
import { PoolSettings } from "./PoolSettings.js"
import { PoolRecord, PoolStore } from "./PoolStore.js"
import { attributes, forPool } from "./tracing.js"
import { Recycling } from "./Recycling.js"
import { WarmSet } from "./WarmSet.js"

/** What one alarm tick did. A tick settles within `policy.settleBounds.tickMs`, storage aside. */
export interface TickReport {
  readonly expired: number
  readonly dead: number
  readonly adopted: number
  readonly stopped: number
  readonly refilled: number
  /** Warm containers stopped for an older revision or their age, and for idling above the warm target. */
  readonly recycled: number
  readonly scaledDown: number
  /** Steps that failed; the alarm was re-armed regardless. */
  readonly failures: ReadonlyArray<string>
  /** When the alarm fires next, or null when the pool is idle. */
  readonly nextAlarm: number | null
}

const idleReport = { expired: 0, dead: 0, adopted: 0, stopped: 0, refilled: 0, recycled: 0, scaledDown: 0 }

export const make = Effect.gen(function*() {
  const store = yield* PoolStore
  const record = yield* PoolRecord
  const settings = yield* PoolSettings
  const lifecycle = yield* Lifecycle
  const warmSet = yield* WarmSet
  const alarm = yield* PoolAlarm
  const recycling = yield* Recycling
  const now = Clock.currentTimeMillis
  const inParallel = { concurrency: limits.callConcurrency } as const

  /** Asks a container's status in its own binding; the call is bounded (`limits.statusTimeoutMs`). */
  const probe = (slot: Slot): Effect.Effect<Probe> =>
    Effect.flatMap(settings.containersFor(slot.binding), (c) => c.status(slot.container)).pipe(
      Effect.map((status): Probe => isAlive(status) ? "alive" : "dead"),
      Effect.orElseSucceed((): Probe => "unanswered")
    )

  /** For orphans, no answer is as good as dead: no session depends on them. */
  const isDead = (slot: Slot) => Effect.map(probe(slot), (found) => found !== "alive")

  /**
   * Ends the leases among the due slots that expired by `at` and stops their containers. Each is
   * ended in a step of its own that checks the deadline again, so a renewal since the read wins.
   */
  const expireStep = (due: ReadonlyArray<Slot>, at: number) =>
    Effect.gen(function*() {
      const lapsed = due.filter((slot) => slot.expiresAt !== null && slot.expiresAt <= at)
      const expired = yield* Effect.filter(lapsed, (slot) => store.expireLease(slot.container, at))
      const names = expired.map((slot) => slot.container)
      yield* Effect.forEach(names, (name) => lifecycle.stop(name, "expired"), { ...inParallel, discard: true })
      return names
    })

  const orphans = (state: SlotState) =>
    Effect.flatMap(store.inState(state, limits.tickPage), (slots) =>
      Effect.filter(slots, (slot) => Effect.map(lifecycle.isInFlight(slot.container), (held) => !held)))

  /**
   * Slots left mid-start or mid-stop by an earlier instance: adopt what runs, while the warm set is short; stop
   * the rest. A container left on its way back from a lease (`returning`) is stopped: it may not have revoked
   * that lease. Stops this tick already tried (`tried`) wait for the next one: a container that did not answer
   * is not waited on twice in one tick.
   */
  const repairStep = (at: number, config: WarmPoolConfig, tried: ReadonlyArray<string> = []) =>
    Effect.gen(function*() {
      const warming = yield* orphans("warming")
      const starting = [...warming.filter((slot) => slot.returningAt === undefined), ...(yield* orphans("starting"))]
      const stopping = (yield* orphans("stopping")).filter((slot) => !tried.includes(slot.container))
      // Out of the warm set's count first, so the orphans judged next are adopted as if they were gone. Only
      // while still returning at the epoch read: a return that finished since is no orphan.
      const returning = yield* Effect.filter(
        warming.filter((slot) => slot.returningAt !== undefined),
        (slot) => store.stopReturning(slot.container, slot.returningAt!)
      ).pipe(Effect.map((slots) => slots.map((slot) => slot.container)))
      const dead = yield* Effect.forEach(starting, isDead, inParallel)
      const undecided = yield* Ref.make(starting.filter((slot) => slot.state === "warming").length)
      const toStop: Array<string> = []
      for (const [i, slot] of starting.entries()) {
        const adopted = !dead[i] && isCurrentBinding(slot, config) && (yield* store.exclusive(Effect.gen(function*() {
          const adopt = adoptOrphan(yield* store.counts, yield* Ref.get(undecided), config)
          return adopt && (yield* store.promote(slot.container, at + config.healthCheckInterval))
        })))
        if (slot.state === "warming") yield* Ref.update(undecided, (n) => n - 1)
        if (!adopted) {
          yield* store.markStopping(slot.container)
          toStop.push(slot.container)
        }
      }
      const stopped = [...toStop, ...stopping.map((slot) => slot.container)]
      yield* Effect.forEach([
        ...stopped.map((name) => lifecycle.stop(name)),
        ...returning.map((name) => lifecycle.stop(name, "released"))
      ], (stop) => stop, { ...inParallel, discard: true })
      return { adopted: starting.length - toStop.length, stopped: stopped.length + returning.length }
    })

  /**
   * Checks due warm and acquired containers: a dead one is retired, a live warm one kept alive. A warm one
   * started in an earlier binding is retired too: no client of the current binding can reach it.
   */
  const healthStep = (due: ReadonlyArray<Slot>, at: number, config: WarmPoolConfig) =>
    Effect.gen(function*() {
      const keepAlive = (slot: Slot) =>
        slot.state === "warm"
          ? Effect.ignore(Effect.flatMap(settings.containersFor(slot.binding), (c) => c.keepAlive(slot.container)))
          : Effect.void
      const stale = (slot: Slot) => slot.state === "warm" && !isCurrentBinding(slot, config)
      const outcome = (slot: Slot) =>
        Effect.flatMap(stale(slot) ? Effect.succeed<Probe>("dead") : probe(slot), (found) =>
          found === "unanswered" && slot.state === "acquired"
            ? Effect.map(
              store.recordFailedCheck(slot.container, at + retryDelay(config)),
              (failedInARow) => checkOutcome(slot.state, found, failedInARow)
            )
            : Effect.succeed(checkOutcome(slot.state, found, 0)))
      const outcomes = yield* Effect.forEach(due, (slot) =>
        Effect.tap(outcome(slot), (decided) =>
          decided === "drop"
            ? lifecycle.retire(slot.container, stale(slot) ? "retired" : "dead")
            : decided === "keep"
            ? Effect.zipRight(keepAlive(slot), store.scheduleCheck(slot.container, at + config.healthCheckInterval))
            : Effect.void), inParallel)
      return {
        dead: outcomes.filter((decided) => decided === "drop").length,
        rechecks: outcomes.filter((decided) => decided === "recheck").length
      }
    })

  /**
   * Arms the next tick, or disarms when nothing is held and the pool need not stay warm. It disarms under
   * the lock every reservation takes: a reservation made after this count arms the alarm again itself.
   */
  const rearm = (config: WarmPoolConfig, soon: boolean, backlog: boolean, shutDown: boolean) =>
    Effect.gen(function*() {
      const idle = yield* store.exclusive(Effect.flatMap(store.counts, (counts) =>
        totalContainers(counts) === 0 && (shutDown || config.minContainers === 0)
          ? Effect.as(alarm.clear, true)
          : Effect.succeed(false)))
      if (idle) return null
      const at = (yield* now) + (backlog ? 0 : soon ? retryDelay(config) : config.healthCheckInterval)
      yield* alarm.set(at)
      return at
    })

  const steps = Effect.gen(function*() {
    const current = yield* settings.current
    if (Option.isNone(current)) {
      yield* Effect.ignore(alarm.clear)
      return { ...idleReport, failures: [], nextAlarm: null } as TickReport
    }
    const { config } = current.value
    yield* Effect.annotateCurrentSpan(attributes.pool, config.name)
    const failures: Array<string> = []
    const step = <A, E>(name: string, effect: Effect.Effect<A, E>, fallback: A) =>
      Effect.catchAll(effect.pipe(Effect.withSpan(`WarmPool.tick ${name}`)), (error) =>
        Effect.as(Effect.logWarning(`warm pool alarm: ${name} failed`, error), fallback).pipe(
          Effect.tap(() => void failures.push(name))
        )).pipe(forPool(config))
    // A safety net first: should this tick be cut short by a reset, the alarm still fires again.
    const safety = (yield* now) + retryDelay(config)
    yield* step("safety alarm", alarm.set(safety), undefined)
    const shutDown = yield* step("shut-down flag", record.shutDown, false)
    const at = yield* now
    // One page of due slots serves both expiry and health checks; a full page means a backlog.
    const due = yield* step("due slots", store.dueForCheck(at, limits.tickPage), [])
    const done = { ...idleReport }
    let rechecks = 0
    const work = Effect.gen(function*() {
      const expired = yield* step("lease expiry", expireStep(due, at), [])
      done.expired = expired.length
      Object.assign(done, yield* step("orphan repair", repairStep(at, config, expired), { adopted: 0, stopped: 0 }))
      const unexpired = due.filter((slot) => !expired.includes(slot.container))
      const checked = yield* step("health check", healthStep(unexpired, at, config), { dead: 0, rechecks: 0 })
      done.dead = checked.dead
      rechecks = checked.rechecks
      Object.assign(done, yield* step("recycle", recycling.step(at, config), { recycled: 0, scaledDown: 0 }))
      // A shut-down pool only finishes its stops; it warms up again when next used. The flag is read
      // again here: a shutdown may have run while this tick waited on a container (and the reservation
      // itself refuses, under the same lock as shutdown).
      const shutDownNow = yield* step("shut-down flag", record.shutDown, shutDown)
      done.refilled = shutDownNow ? 0 : yield* step("refill", warmSet.refill, 0)
    })
    // What the budget cuts short (stops, checks, starts) is left in a state the next tick resumes from.
    const finished = yield* Effect.timeoutTo(work, {
      duration: Duration.millis(limits.tickWorkBudgetMs),
      onSuccess: () => true,
      onTimeout: () => false
    })
    if (!finished) failures.push("work budget")
    const backlog = due.length === limits.tickPage
    const shutDownAtEnd = yield* step("shut-down flag", record.shutDown, shutDown)
    // A leased container whose check went unanswered is checked again soon.
    const soon = failures.length > 0 || rechecks > 0
    const nextAlarm = yield* step("re-arm", rearm(config, soon, backlog, shutDownAtEnd), safety)
    return { ...done, failures, nextAlarm } as TickReport
  })

  /** Never fails: an alarm handler must re-arm whatever happens (its config unreadable, even a defect). */
  const tick: Effect.Effect<TickReport> = Effect.catchAllCause(Effect.withSpan(steps, "WarmPool.tick"), (cause) =>
    Effect.gen(function*() {
      yield* Effect.logError("warm pool alarm: tick failed; retrying soon", cause)
      const at = (yield* now) + 5_000
      const armed = yield* Effect.either(alarm.set(at))
      return { ...idleReport, failures: ["tick"], nextAlarm: armed._tag === "Right" ? at : null }
    }))

  return { tick, expireStep, repairStep, healthStep, rearm }
})

export type MaintenanceService = Effect.Effect.Success<typeof make>

export class Maintenance extends Context.Tag("cf-container-warm-pool/Maintenance")<Maintenance, MaintenanceService>() {
  static readonly make = make
  static readonly layer = Layer.effect(Maintenance, make)
}
