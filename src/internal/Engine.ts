/**
 * The engine core: assignment, lease renewal, release, warmup, shutdown and stop notices.
 * It reads its config from `PoolSettings`, decides with the pure policy, and leaves containers'
 * lives to `Lifecycle` and the warm set to `WarmSet`. The alarm tick lives in `Maintenance`.
 */
import { Clock, Context, Effect, Either, Layer, Ref } from "effect"
import type { WarmPoolConfig } from "../Config.js"
import type { InvalidConfig, InvalidContainerBinding, PoolUnavailable } from "../Errors.js"
import { ContainerStartFailed, PoolExhausted } from "../Errors.js"
import type { StorageError } from "./errors.js"
import type { ReleaseResult } from "../Protocol.js"
import { Lifecycle } from "./Lifecycle.js"
import type { Lease, SlotCounts } from "./policy.js"
import {
  cacheGrantMs,
  capacityLeft,
  isLeaseLive,
  leaseTerms,
  limits,
  releaseOutcome,
  retryDelay,
  toStats,
  totalContainers,
  warmupCount
} from "./policy.js"
import { PoolAlarm } from "./PoolAlarm.js"
import { PoolSettings } from "./PoolSettings.js"
import { PoolRecord, PoolStore } from "./PoolStore.js"
import * as SingleFlight from "./SingleFlight.js"
import { WarmSet } from "./WarmSet.js"

/** Why an assignment can fail. */
export type AssignmentError =
  | PoolExhausted
  | ContainerStartFailed
  | InvalidContainerBinding
  | PoolUnavailable
  | StorageError

const exhausted = (counts: SlotCounts, config: WarmPoolConfig) =>
  new PoolExhausted({
    warm: counts.warm,
    warming: counts.warming + counts.starting,
    acquired: counts.acquired,
    stopping: counts.stopping,
    maxContainers: config.maxContainers
  })

export const make = Effect.gen(function*() {
  const store = yield* PoolStore
  const record = yield* PoolRecord
  const settings = yield* PoolSettings
  const lifecycle = yield* Lifecycle
  const warmSet = yield* WarmSet
  const alarm = yield* PoolAlarm
  const flights = SingleFlight.make<string>()
  const now = Clock.currentTimeMillis

  const checkedLeftovers = yield* Ref.make(false)
  /**
   * Starts and stops left mid-way by the instance before this one are repaired by the tick: on this
   * instance's first call, run one now rather than up to a whole interval later.
   */
  const repairLeftoversSoon = Effect.unlessEffect(
    Effect.gen(function*() {
      const counts = yield* store.counts
      if (counts.warming + counts.starting + counts.stopping > 0) yield* alarm.set(yield* now)
      yield* Ref.set(checkedLeftovers, true)
    }),
    Ref.get(checkedLeftovers)
  )

  /** The first use of an idle pool arms the alarm, and (when asked) warms toward `minContainers`. */
  const activate = (options: { readonly refill: boolean }) =>
    Effect.gen(function*() {
      yield* repairLeftoversSoon
      yield* record.setShutDown(false)
      if (yield* alarm.isArmed) return
      const { config } = yield* settings.get
      yield* alarm.set((yield* now) + config.healthCheckInterval)
      if (options.refill) yield* warmSet.refillInBackground
    })

  /** Slides a live lease and answers its container; undefined when there is none or it expired. */
  const renewIfLive = (lease: Lease | undefined, at: number, grantMs: number) =>
    Effect.flatMap(settings.get, ({ config }) =>
      lease === undefined || !isLeaseLive(lease, at)
        ? Effect.succeed(undefined)
        : Effect.as(store.renewLease(lease.sessionId, lease.container, leaseTerms(at, grantMs, config)), lease.container))

  /** A cold start for one session, when no warm container is free. */
  const coldStart = (sessionId: string, grantMs: number) =>
    Effect.gen(function*() {
      const { config } = yield* settings.get
      const [container] = yield* store.exclusive(
        Effect.flatMap(store.counts, (c) => lifecycle.reserve(capacityLeft(c, config) > 0 ? 1 : 0, "starting", sessionId))
      )
      if (container === undefined) return yield* Effect.fail(exhausted(yield* store.counts, config))
      yield* lifecycle.launch(
        container,
        Effect.flatMap(now, (t) => store.bind(container, leaseTerms(t, grantMs, config), t + config.healthCheckInterval))
      )
      return container
    })

  const assign = (sessionId: string, grantMs: number) =>
    Effect.gen(function*() {
      const { config } = yield* settings.get
      const at = yield* now
      const existing = yield* renewIfLive(yield* store.lease(sessionId), at, grantMs)
      if (existing !== undefined) return existing
      const container = (yield* store.assignWarm(sessionId, leaseTerms(at, grantMs, config))) ??
        (yield* coldStart(sessionId, grantMs))
      yield* warmSet.refillInBackground
      return container
    })

  const getContainer = (
    sessionId: string,
    grantMs: number
  ): Effect.Effect<string, AssignmentError> =>
    Effect.gen(function*() {
      const lease = yield* store.lease(sessionId)
      const live = yield* renewIfLive(lease, yield* now, grantMs)
      if (live !== undefined) return live
      if (lease !== undefined) {
        // Expired: its holder may still use it, so it is recycled, never handed on.
        yield* store.markStopping(lease.container)
        yield* lifecycle.inBackground(lifecycle.stop(lease.container))
      }
      // The alarm is armed before anything starts, so a start cut short by a reset is repaired.
      yield* activate({ refill: false })
      const { joined, value: container } = yield* flights.run(sessionId, assign(sessionId, grantMs))
      // A call that joined another's assignment got it on that call's terms: record its own cache
      // grant too, and if the lease ended meanwhile, start over rather than hand out a container
      // a cache could then keep after it went to another id.
      if (joined && grantMs > 0) {
        const { config } = yield* settings.get
        if (!(yield* store.renewLease(sessionId, container, leaseTerms(yield* now, grantMs, config)))) {
          return yield* getContainer(sessionId, grantMs)
        }
      }
      return container
    })

  const renewLease = (sessionId: string, grantMs: number) =>
    Effect.flatMap(store.lease(sessionId), (lease) => Effect.flatMap(now, (at) => renewIfLive(lease, at, grantMs)))

  const release = (sessionId: string) =>
    Effect.gen(function*() {
      const { config } = yield* settings.get
      const released = yield* store.exclusive(Effect.gen(function*() {
        const lease = yield* store.lease(sessionId)
        if (lease === undefined) return undefined
        const at = yield* now
        const outcome = releaseOutcome(yield* store.counts, lease, at, config)
        if (outcome === "warm") yield* store.returnToWarm(lease.container, at + config.healthCheckInterval)
        else yield* store.markStopping(lease.container)
        return { container: lease.container, outcome }
      }))
      if (released === undefined) return { released: false, outcome: "unknown-session" } as ReleaseResult
      if (released.outcome === "stopped") yield* lifecycle.stop(released.container)
      return { released: true, outcome: released.outcome } as ReleaseResult
    })

  /** A pure read: it starts nothing and arms nothing. */
  const stats = Effect.gen(function*() {
    const { config } = yield* settings.get
    return toStats(yield* store.counts, yield* record.startFailures, config)
  })

  const warmup = (count: number | undefined) =>
    Effect.gen(function*() {
      yield* activate({ refill: false })
      const results = yield* Effect.flatMap(
        warmSet.reserve((c, config) => warmupCount(c, count, config)),
        warmSet.start
      )
      const failures = results.filter(Either.isLeft).map((failure) => failure.left)
      // A storage or config failure is not a start failure: it is reported as itself.
      const other = failures.find((error) => error._tag !== "ContainerStartFailed")
      if (other !== undefined) return yield* Effect.fail(other)
      const first = failures[0]
      if (first?._tag === "ContainerStartFailed") {
        return yield* new ContainerStartFailed({
          attempts: first.attempts,
          reason: `${failures.length} of ${results.length} warmup starts failed; first: ${first.reason}`
        })
      }
      return { started: results.length, warm: (yield* store.counts).warm }
    })

  const shutdown = Effect.gen(function*() {
    yield* record.setShutDown(true)
    const { config } = yield* settings.get
    const names = yield* store.markAllStopping
    // Interrupting background starts runs their finalizers, which stop what they began.
    yield* lifecycle.interruptBackground
    yield* Effect.forEach(names, lifecycle.stop, { concurrency: limits.callConcurrency, discard: true })
    // A stop that failed stays tracked as stopping: the alarm stays armed to retry it.
    if (totalContainers(yield* store.counts) === 0) yield* alarm.clear
    else yield* alarm.set((yield* now) + retryDelay(config))
    return { stopped: names.length }
  })

  /** A container reported that it stopped: its slot goes now rather than at the next health check. */
  const containerStopped = (reference: string) =>
    Effect.gen(function*() {
      const slot = yield* store.slot(reference)
      if (slot === undefined || (yield* lifecycle.isInFlight(slot.container))) return false
      if (slot.state !== "warm" && slot.state !== "acquired") return false
      yield* store.markStopping(slot.container)
      yield* lifecycle.inBackground(lifecycle.stop(slot.container))
      if (!(yield* record.shutDown)) yield* warmSet.refillInBackground
      return true
    })

  return { getContainer, renewLease, release, stats, warmup, shutdown, containerStopped, settled: lifecycle.settled }
})

export type EngineService = Effect.Effect.Success<typeof make>

export class Engine extends Context.Tag("cf-container-warm-pool/Engine")<Engine, EngineService>() {
  static readonly make = make
  static readonly layer = Layer.effect(Engine, make)
}

/**
 * How every call from a client runs: the pool adopts the caller's config (decoded only when it
 * changed), then the engine serves the call with the cache grant that config asks for.
 */
export const forCaller = <A, E, R>(
  raw: unknown,
  body: (engine: EngineService, grantMs: number) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidConfig | InvalidContainerBinding | StorageError, R | Engine | PoolSettings> =>
  Effect.flatMap(PoolSettings, (settings) =>
    Effect.flatMap(settings.adopt(raw), ({ config }) => Effect.flatMap(Engine, (engine) => body(engine, cacheGrantMs(config)))))
