/**
 * The engine: the pool's operations as the Durable Object serves them. Assignment lives in
 * `Assignment`; here are release, stats, warmup, shutdown and stop notices. It reads its config
 * from `PoolSettings`, decides with the pure policy, and leaves containers' lives to `Lifecycle`.
 * The alarm tick lives in `Maintenance`.
 */
import { Clock, Context, Effect, Either, Layer } from "effect"
import type { InvalidConfig, InvalidContainerBinding } from "../Errors.js"
import { ContainerStartFailed } from "../Errors.js"
import type { ReleaseResult } from "../Protocol.js"
import { containerInfo } from "./inspect.js"
import { Assignment } from "./Assignment.js"
import { Autoscaler, shaped } from "./Autoscaler.js"
import type { StorageError } from "./errors.js"
import { Fencing } from "./Fencing.js"
import { Holds } from "./Holds.js"
import { Lifecycle } from "./Lifecycle.js"
import { cacheGrantMs, isCurrentBinding, releaseOutcome, retryDelay, toStats, totalContainers, warmupCount } from "./policy.js"
import { PoolAlarm } from "./PoolAlarm.js"
import { PoolSettings } from "./PoolSettings.js"
import { PoolRecord, PoolStore } from "./PoolStore.js"
import { forPool, outcome, sessionSpan } from "./tracing.js"
import { Recycling } from "./Recycling.js"
import { StartGovernor } from "./StartGovernor.js"
import { WarmSet } from "./WarmSet.js"

export type { AssignmentError } from "./Assignment.js"

export const make = Effect.gen(function*() {
  const store = yield* PoolStore
  const record = yield* PoolRecord
  const settings = yield* PoolSettings
  const lifecycle = yield* Lifecycle
  const warmSet = yield* WarmSet
  const alarm = yield* PoolAlarm
  const assignment = yield* Assignment
  const holds = yield* Holds
  const fencing = yield* Fencing
  const autoscaler = yield* Autoscaler
  const governor = yield* StartGovernor
  const recycling = yield* Recycling
  const now = Clock.currentTimeMillis
  /** A new revision is acted on by the first assignment that brings it (see `Recycling.onRevision`). */
  const noticeRevision = Effect.flatMap(settings.get, ({ config }) => recycling.onRevision(config))

  const release = (sessionId: string) =>
    Effect.gen(function*() {
      const { config } = yield* settings.get
      // The lease ends in the locked step that decides how; a fenced container rejoins the warm set only once
      // it revoked the lease, and one that does not answer stops (`Fencing.endLease`).
      const { fate } = yield* fencing.endLease(Effect.gen(function*() {
        const lease = yield* store.lease(sessionId)
        if (lease === undefined) return {}
        const at = yield* now
        // Holders still using the container keep it from the warm set: it is stopped under them, never handed on.
        const holders = yield* store.liveHolders(lease.container, at)
        // The warm set it may rejoin is sized by the warm target (`minContainers` unless autoscaling).
        const floor = shaped(config, yield* autoscaler.target(config), config.maxContainers)
        const outcome = isCurrentBinding(lease, config)
          ? releaseOutcome(yield* store.counts, lease, at, floor, holders)
          : "stopped"
        return { end: { lease, outcome } }
      }))
      return (fate === undefined ? { released: false, outcome: "unknown-session" } : { released: true, outcome: fate }) satisfies ReleaseResult
    })

  /** A pure read: it starts nothing and arms nothing. */
  const stats = Effect.gen(function*() {
    const { config } = yield* settings.get
    const { startFailures, ...metrics } = yield* record.metrics
    return {
      ...toStats(yield* store.counts, startFailures, config),
      ...metrics,
      ...(yield* autoscaler.report(config)),
      ...(yield* governor.report),
      olderRevision: yield* store.olderRevisions
    }
  })

  const warmup = (count: number | undefined) =>
    Effect.gen(function*() {
      yield* assignment.activate
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
    const { config } = yield* settings.get
    // Under the lock that every reservation takes: a reservation either ran before (its slot is
    // marked stopping here, and its launch stops) or runs after and refuses.
    const names = yield* store.exclusive(Effect.zipRight(record.setShutDown(true), store.markAllStopping))
    // Interrupting background starts runs their finalizers, which stop what they began. Those stops and
    // the stops of every held container all run at once, each bounded: shutdown settles within one stop bound.
    yield* Effect.all([
      lifecycle.interruptBackground,
      Effect.forEach(names, (name) => lifecycle.stop(name, "shut-down"), { concurrency: "unbounded", discard: true })
    ], { concurrency: "unbounded", discard: true })
    // A stop that failed stays tracked as stopping: the alarm stays armed to retry it. Disarmed under the
    // reservations' lock, so a use that arrived meanwhile either is counted here or arms it again.
    const idle = yield* store.exclusive(Effect.flatMap(store.counts, (counts) =>
      totalContainers(counts) === 0 ? Effect.as(alarm.clear, true) : Effect.succeed(false)))
    if (!idle) yield* alarm.set((yield* now) + retryDelay(config))
    return { stopped: names.length }
  })

  /** A container reported that it stopped: its slot goes now rather than at the next health check. */
  const containerStopped = (reference: string) =>
    Effect.gen(function*() {
      const slot = yield* store.slot(reference)
      if (slot === undefined || (yield* lifecycle.isInFlight(slot.container))) return false
      if (slot.state !== "warm" && slot.state !== "acquired") return false
      yield* store.markStopping(slot.container)
      yield* lifecycle.inBackground(lifecycle.stop(slot.container, "dead"))
      if (!(yield* record.shutDown)) yield* warmSet.refillInBackground
      return true
    })

  /** A page of containers after `cursor`: reads `limit + 1` rows (the extra one says if more follow). */
  const inspect = (limit: number, cursor: string | null) =>
    Effect.gen(function*() {
      const rows = yield* store.page(cursor, limit + 1)
      const at = yield* now
      const page = rows.slice(0, limit)
      return {
        containers: page.map((slot) => containerInfo(slot, at)),
        nextCursor: rows.length > limit ? page[page.length - 1]!.container : null
      }
    })

  // Every public operation is a span (see `tracing.ts`); the pool's name comes from `forCaller`.
  const span = (name: string) => Effect.withSpan(`WarmPool.${name}`)
  return {
    getContainer: (sessionId: string, grantMs: number, sliding?: boolean) =>
      Effect.zipRight(noticeRevision, assignment.getContainer(sessionId, grantMs, sliding)).pipe(
        sessionSpan("WarmPool.getContainer", sessionId)
      ),
    renewLease: (sessionId: string, grantMs: number) =>
      assignment.renewLease(sessionId, grantMs).pipe(
        Effect.tap((container) => outcome(container === undefined ? "no-lease" : "renewed", container)),
        sessionSpan("WarmPool.renewLease", sessionId)
      ),
    hold: (sessionId: string, holder: string) =>
      Effect.zipRight(noticeRevision, holds.hold(sessionId, holder)).pipe(
        Effect.tap((container) => outcome("held", container)),
        sessionSpan("WarmPool.hold", sessionId)
      ),
    releaseHold: (sessionId: string, holder: string) =>
      holds.releaseHold(sessionId, holder).pipe(
        Effect.tap((r) => outcome(r.outcome)),
        sessionSpan("WarmPool.releaseHold", sessionId)
      ),
    renewHold: (sessionId: string, holder: string) =>
      holds.renewHold(sessionId, holder).pipe(sessionSpan("WarmPool.renewHold", sessionId)),
    grant: fencing.grant,
    release: (sessionId: string) =>
      release(sessionId).pipe(Effect.tap((r) => outcome(r.outcome)), sessionSpan("WarmPool.release", sessionId)),
    stats: span("stats")(stats),
    inspect: (limit: number, cursor: string | null) => span("inspect")(inspect(limit, cursor)),
    warmup: (count: number | undefined) => span("warmup")(warmup(count)),
    shutdown: span("shutdown")(shutdown),
    containerStopped: (reference: string) =>
      containerStopped(reference).pipe(
        Effect.tap((dropped) => outcome(dropped ? "dropped" : "untracked", reference)),
        span("containerStopped")
      ),
    settled: lifecycle.settled
  }
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
    Effect.flatMap(
      settings.adopt(raw),
      ({ config }) => Effect.flatMap(Engine, (engine) => forPool(config)(body(engine, cacheGrantMs(config))))
    ))
