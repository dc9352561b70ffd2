/**
 * The life of a container: reserved, launched, handed over; stopped and forgotten. Launches and
 * stops are tracked in flight here, in one place, so the tick takes only what no operation of
 * this instance holds for an orphan. Background work (refills, stops) runs in one fiber set.
 */
import { Clock, Context, Duration, Effect, Exit, FiberSet, HashMap, Layer, Option, Ref, Schedule } from "effect"
import type { WarmPoolConfig } from "../Config.js"
import type { InvalidContainerBinding, PoolUnavailable } from "../Errors.js"
import { ContainerStartFailed } from "../Errors.js"
import type { StorageError } from "./errors.js"
import { ContainerCallFailed } from "./errors.js"
import type { StopReason } from "./fence.js"
import { PoolAlarm } from "./PoolAlarm.js"
import { PoolSettings } from "./PoolSettings.js"
import type { NewSlot } from "./PoolStore.js"
import { PoolRecord, PoolStore } from "./PoolStore.js"
import { classifyStartFailure } from "./SqliteMetrics.js"
import { attributes, outcome } from "./tracing.js"
import { Autoscaler } from "./Autoscaler.js"
import { totalContainers } from "./policy.js"
import { StartGovernor } from "./StartGovernor.js"

/** The pool has no config yet, or its container binding does not resolve. */
type Unconfigured = PoolUnavailable | InvalidContainerBinding

/** What a launch may leave running: nothing, a started container, or one whose stop went unanswered. */
type Residue = "nothing" | "started" | "unanswered"

export interface LifecycleService {
  /**
   * Reserves slots for `count` new containers, marked in flight before they are tracked, so no tick
   * takes them for orphans. Whoever reserves them must `launch` each, which ends its flight. Reserves
   * nothing while the pool is shut down; callers decide under `PoolStore.exclusive`, as shutdown does.
   * Arms the alarm if a tick or a shutdown disarmed it since the caller last looked.
   */
  readonly reserve: (
    count: number,
    state: "warming" | "starting",
    sessionId: string | null
  ) => Effect.Effect<ReadonlyArray<string>, StorageError | Unconfigured>
  /**
   * Starts a reserved container and hands it over. Until the hand-over succeeds, any failure or
   * interruption stops the container; its slot goes only once the stop succeeded. It settles within
   * `policy.startBudgetMs`: each attempt, and the stop of what it began, is bounded.
   */
  readonly launch: (
    container: string,
    handOver: Effect.Effect<boolean, StorageError>
  ) => Effect.Effect<void, ContainerStartFailed | StorageError | Unconfigured>
  /**
   * Destroys a `stopping` container and forgets it, within `limits.stopTimeoutMs`; a destroy that fails or
   * does not answer leaves it `stopping` (still counted against the cap) for the tick to retry. A
   * `PooledContainer` is told `reason`, and refuses every request from then on (see `fence.ts`).
   */
  readonly stop: (container: string, reason?: StopReason) => Effect.Effect<void, StorageError | Unconfigured>
  /** Takes a container out of service for good: its slot goes stopping, then away. */
  readonly retire: (container: string, reason?: StopReason) => Effect.Effect<void, StorageError | Unconfigured>
  readonly isInFlight: (container: string) => Effect.Effect<boolean>
  /**
   * Holds a container in flight for work of this instance other than a launch or a stop (a released lease's
   * return to the warm set, `Fencing`), so no tick takes its slot for an orphan meanwhile; `endFlight` ends it.
   */
  readonly beginFlight: (container: string) => Effect.Effect<void>
  readonly endFlight: (container: string) => Effect.Effect<void>
  readonly inBackground: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<void>
  /** Interrupts background work; interrupted launches stop what they began. */
  readonly interruptBackground: Effect.Effect<void>
  /** Waits until background work has finished. */
  readonly settled: Effect.Effect<void>
}


const retrySchedule = (config: WarmPoolConfig) =>
  Schedule.exponential(Duration.millis(100)).pipe(
    Schedule.union(Schedule.spaced(Duration.seconds(5))),
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(config.startRetries))
  )

export const make = Effect.gen(function*() {
  const store = yield* PoolStore
  const record = yield* PoolRecord
  const settings = yield* PoolSettings
  const alarm = yield* PoolAlarm
  const governor = yield* StartGovernor
  const autoscaler = yield* Autoscaler
  const held = Effect.map(store.counts, totalContainers)
  const background = yield* FiberSet.make<unknown, unknown>()
  // Containers this instance is starting or stopping, with how many operations hold each.
  const inFlight = yield* Ref.make(HashMap.empty<string, number>())

  const enter = (container: string) =>
    Ref.update(inFlight, HashMap.modifyAt(container, (n) => Option.some(Option.getOrElse(n, () => 0) + 1)))
  const leave = (container: string) =>
    Ref.update(inFlight, HashMap.modifyAt(container, (n) => Option.filter(Option.map(n, (k) => k - 1), (k) => k > 0)))
  const tracked = (container: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(enter(container), () => effect, () => leave(container))

  // A container is stopped in the binding it was started in, read from its slot (one indexed row).
  const stop = (container: string, reason: StopReason = "stopped") =>
    Effect.flatMap(store.slot(container), (slot) =>
      Effect.flatMap(settings.containersFor(slot?.binding), (c) =>
        c.destroy(container, reason).pipe(
          Effect.matchEffect({
            onFailure: (error) => Effect.logWarning(`warm pool: ${error.message}; retrying on the next tick`),
            onSuccess: () => store.remove(container)
          })
        ))).pipe(tracked(container), Effect.withSpan("WarmPool.stop", { attributes: { [attributes.container]: container } }))

  const retire = (container: string, reason?: StopReason) =>
    Effect.zipRight(store.markStopping(container), stop(container, reason))

  /**
   * One start attempt, bounded by `startupTimeout`; a failed attempt destroys what it began (a bounded call),
   * and `residue` records what may still run.
   */
  const startAttempt = (container: string, binding: string | undefined, config: WarmPoolConfig, residue: Ref.Ref<Residue>) =>
    Effect.flatMap(settings.containersFor(binding), (c) =>
      c.start(container, config.ports).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(config.startupTimeout),
          onTimeout: () =>
            new ContainerCallFailed({
              container,
              operation: "start",
              reason: `not ready within startupTimeout (${config.startupTimeout} ms)`
            })
        }),
        // Paced, and its outcome learned from (limits, the breaker, start times): see `StartGovernor`.
        (timed) => governor.govern(config, timed, held, autoscaler.recordStart),
        Effect.tapError((error) => record.recordStartFailure(classifyStartFailure(error.reason))),
        Effect.onExit((exit) =>
          Exit.isSuccess(exit)
            ? Ref.set(residue, "started")
            : Effect.flatMap(
              Effect.exit(c.destroy(container)),
              (stopped) => Ref.set(residue, Exit.isSuccess(stopped) ? "nothing" : "unanswered")
            )
        )
      ))

  /**
   * After a failed launch: a container that never ran is forgotten, one that ran is stopped now, and one
   * whose stop went unanswered stays `stopping` for the tick, so the caller waits on at most one stop.
   */
  const abandon = (container: string, residue: Ref.Ref<Residue>) =>
    Effect.flatMap(Ref.get(residue), (left) =>
      left === "nothing"
        ? store.remove(container)
        : left === "started"
        ? retire(container)
        : Effect.asVoid(store.markStopping(container))).pipe(Effect.ignore)

  const launch = (container: string, handOver: Effect.Effect<boolean, StorageError>) =>
    Effect.gen(function*() {
      const { config } = yield* settings.get
      const residue = yield* Ref.make<Residue>("nothing")
      const attempts = yield* Ref.make(0)
      const failed = (reason: string) => Effect.flatMap(Ref.get(attempts), (n) => new ContainerStartFailed({ attempts: n, reason }))
      // Each attempt first checks that its slot is still reserved: once shutdown (or a repair) took it
      // out of service, nothing starts it again, not even a retry already scheduled.
      const attempt = Effect.gen(function*() {
        const slot = yield* store.slot(container)
        if (slot?.state !== "warming" && slot?.state !== "starting") {
          return yield* failed("the pool stopped tracking the container before it started (shutdown)")
        }
        yield* Ref.update(attempts, (n) => n + 1)
        yield* startAttempt(container, slot.binding, config, residue)
      })
      return yield* attempt.pipe(
        Effect.retry({ schedule: retrySchedule(config), while: (e) => e._tag === "ContainerCallFailed" }),
        Effect.catchTag("ContainerCallFailed", (error) => Effect.flatMap(failed(error.reason), Effect.fail)),
        Effect.zipRight(handOver),
        Effect.flatMap((accepted) =>
          accepted ? Effect.void : Effect.flatMap(failed("the pool stopped tracking the container while it started (shutdown)"), Effect.fail)
        ),
        Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : abandon(container, residue)),
        Effect.tapBoth({ onFailure: () => outcome("failed"), onSuccess: () => outcome("started") })
      )
    }).pipe(
      Effect.ensuring(leave(container)),
      Effect.withSpan("WarmPool.start", { attributes: { [attributes.container]: container } })
    )

  const reserve = (count: number, state: "warming" | "starting", sessionId: string | null) =>
    Effect.gen(function*() {
      // A shut-down pool starts nothing until its next use clears the flag (`Assignment.activate`).
      if (count <= 0 || (yield* record.shutDown)) return []
      const { config, containers } = yield* settings.get
      // The caller checked the alarm before it took the lock; a tick or a shutdown may have disarmed an idle
      // pool since. They disarm under this lock, so this read is current: nothing is tracked without an alarm.
      if (!(yield* alarm.isArmed)) yield* alarm.set((yield* Clock.currentTimeMillis) + config.healthCheckInterval)
      const c = yield* containers
      const binding = config.containerBinding
      const revision = config.revision === undefined ? {} : { revision: config.revision }
      const slots: Array<NewSlot> = Array.from(
        { length: count },
        () => ({ container: c.newName(), state, sessionId, binding, ...revision })
      )
      yield* Effect.forEach(slots, (slot) => enter(slot.container), { discard: true })
      yield* Effect.tapError(store.reserve(slots), () => Effect.forEach(slots, (slot) => leave(slot.container)))
      return slots.map((slot) => slot.container)
    })

  return Lifecycle.of({
    reserve,
    launch,
    stop,
    retire,
    isInFlight: (container) => Effect.map(Ref.get(inFlight), HashMap.has(container)),
    beginFlight: enter,
    endFlight: leave,
    inBackground: (effect) => Effect.asVoid(FiberSet.run(background, effect)),
    interruptBackground: FiberSet.clear(background),
    settled: FiberSet.awaitEmpty(background)
  })
})

export class Lifecycle extends Context.Tag("cf-container-warm-pool/Lifecycle")<Lifecycle, LifecycleService>() {
  static readonly make = make
  static readonly layer = Layer.scoped(Lifecycle, make)
}
