/**
 * Assignment: the container leased to a session, from its live lease, the warm set, or a cold
 * start; and lease renewal. Concurrent calls for one new id share one assignment.
 */
import { Clock, Context, Effect, Layer, Ref } from "effect"
import type { WarmPoolConfig } from "../Config.js"
import type { InvalidContainerBinding, PoolUnavailable } from "../Errors.js"
import { ContainerStartFailed, PoolExhausted } from "../Errors.js"
import type { StorageError } from "./errors.js"
import { Autoscaler, shaped } from "./Autoscaler.js"
import { Lifecycle } from "./Lifecycle.js"
import type { Lease, LeaseTerms, SlotCounts } from "./policy.js"
import { capacityLeft, isLeaseLive, leaseTerms } from "./policy.js"
import { PoolAlarm } from "./PoolAlarm.js"
import { PoolSettings } from "./PoolSettings.js"
import { PoolRecord, PoolStore } from "./PoolStore.js"
import * as SingleFlight from "./SingleFlight.js"
import { outcome } from "./tracing.js"
import { StartGovernor } from "./StartGovernor.js"
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
  const autoscaler = yield* Autoscaler
  const governor = yield* StartGovernor
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

  /** The first use of an idle (or shut-down) pool arms the alarm; warming up is left to the caller. */
  const activate = Effect.gen(function*() {
    yield* repairLeftoversSoon
    yield* record.setShutDown(false)
    if (yield* alarm.isArmed) return
    const { config } = yield* settings.get
    yield* alarm.set((yield* now) + config.healthCheckInterval)
  })

  /**
   * A renewal (plain use marks the lease sliding) runs under the lock where holders' leaving decides to end
   * a lease: it is either seen by that decision or finds the lease ended.
   */
  const renew = (sessionId: string, container: string, terms: LeaseTerms) =>
    store.exclusive(store.renewLease(sessionId, container, terms))

  /**
   * Slides a live lease and answers its container; undefined when there is none, it expired, or it ended
   * between the read and the renewal (expired by a tick, released): that container is no longer the session's.
   */
  const renewIfLive = (lease: Lease | undefined, at: number, grantMs: number, sliding = true) =>
    Effect.flatMap(settings.get, ({ config }) =>
      lease === undefined || !isLeaseLive(lease, at)
        ? Effect.succeed(undefined)
        : Effect.map(
          renew(lease.sessionId, lease.container, leaseTerms(at, grantMs, config, sliding)),
          (renewed) => renewed ? lease.container : undefined
        ))

  /** A cold start for one session, when no warm container is free. */
  const coldStart = (sessionId: string, grantMs: number, sliding: boolean) =>
    Effect.gen(function*() {
      const { config } = yield* settings.get
      // A broken image is not retried per session while the breaker is open; past a learned limit, no doomed start.
      const refusal = yield* governor.coldStartRefusal
      if (refusal !== undefined) return yield* new ContainerStartFailed({ attempts: 0, reason: refusal })
      const cap = shaped(config, config.minContainers, yield* governor.cap(config))
      const [container] = yield* store.exclusive(
        Effect.flatMap(store.counts, (c) => lifecycle.reserve(capacityLeft(c, cap) > 0 ? 1 : 0, "starting", sessionId))
      )
      if (container === undefined && (yield* record.shutDown)) {
        return yield* new ContainerStartFailed({ attempts: 0, reason: "the pool was shut down while this call waited" })
      }
      if (container === undefined) {
        yield* outcome("refused")
        yield* record.recordRefusal
        return yield* Effect.fail(exhausted(yield* store.counts, cap))
      }
      yield* lifecycle.launch(
        container,
        Effect.flatMap(now, (t) => store.bind(container, leaseTerms(t, grantMs, config, sliding), t + config.healthCheckInterval))
      )
      return container
    })

  const assign = (sessionId: string, grantMs: number, sliding: boolean) =>
    Effect.gen(function*() {
      const { config } = yield* settings.get
      const at = yield* now
      const existing = yield* renewIfLive(yield* store.lease(sessionId), at, grantMs, sliding)
      if (existing !== undefined) return existing
      yield* autoscaler.recordArrival(config)
      // Only a container of the current binding (the caller's stubs come from that namespace) and revision.
      const terms = leaseTerms(at, grantMs, config, sliding)
      const warm = yield* store.assignWarm(sessionId, terms, config.containerBinding, config.revision)
      const container = warm ?? (yield* coldStart(sessionId, grantMs, sliding))
      yield* outcome(warm === undefined ? "cold" : "warm", container)
      yield* warmSet.refillInBackground
      return container
    }).pipe(Effect.withSpan("WarmPool.assign"))

  /** `sliding` is false for a scoped hold's use, which does not mark the lease as in plain use (see `holdPolicy`). */
  const getContainer = (
    sessionId: string,
    grantMs: number,
    sliding = true
  ): Effect.Effect<string, AssignmentError> =>
    Effect.gen(function*() {
      const lease = yield* store.lease(sessionId)
      const at = yield* now
      const live = yield* renewIfLive(lease, at, grantMs, sliding)
      if (live !== undefined) return yield* Effect.as(outcome("live", live), live)
      // Only a lease that had expired when read: one that ended since may already serve another id.
      if (lease !== undefined && !isLeaseLive(lease, at)) {
        // Expired: its holder may still use it, so it is recycled, never handed on.
        yield* store.markStopping(lease.container)
        yield* lifecycle.inBackground(lifecycle.stop(lease.container, "expired"))
      }
      // The alarm is armed before anything starts, so a start cut short by a reset is repaired.
      yield* activate
      const { joined, value: container } = yield* flights.run(sessionId, assign(sessionId, grantMs, sliding))
      // A call that joined another's assignment got it on that call's terms: record its own cache
      // grant (and plain use) too, and if the lease ended meanwhile, start over rather than hand out a
      // container a cache could then keep after it went to another id.
      if (joined && (grantMs > 0 || sliding)) {
        const { config } = yield* settings.get
        if (!(yield* renew(sessionId, container, leaseTerms(yield* now, grantMs, config, sliding)))) {
          return yield* getContainer(sessionId, grantMs, sliding)
        }
      }
      return container
    })

  const renewLease = (sessionId: string, grantMs: number) =>
    Effect.flatMap(store.lease(sessionId), (lease) => Effect.flatMap(now, (at) => renewIfLive(lease, at, grantMs)))

  return { activate, getContainer, renewLease }
})

export type AssignmentService = Effect.Effect.Success<typeof make>

export class Assignment extends Context.Tag("cf-container-warm-pool/Assignment")<Assignment, AssignmentService>() {
  static readonly make = make
  static readonly layer = Layer.effect(Assignment, make)
}
