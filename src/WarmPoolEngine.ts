/**
 * The warm pool as Effect programs: assignment, release, warmup, shutdown and
 * the alarm tick, over a `PoolStore`, a `ContainerDriver` and a `PoolAlarm`.
 * The Durable Object runs one engine; tests run it on in-memory layers.
 */
import { Clock, Context, Duration, Effect, Either, Exit, FiberSet, Layer, Schedule } from "effect"
import type { WarmPoolConfig } from "./Config.js"
import { configKey, decodeConfig } from "./Config.js"
import type { ContainerCallFailed, Containers } from "./ContainerDriver.js"
import { ContainerDriver } from "./ContainerDriver.js"
import type { InvalidContainerBinding } from "./Errors.js"
import { ContainerStartFailed, PoolExhausted } from "./Errors.js"
import { PoolAlarm } from "./PoolAlarm.js"
import { PoolStore } from "./PoolStore.js"
import * as SingleFlight from "./SingleFlight.js"
import type { Lease, PoolStats, ReleaseResult, ShutdownResult, SlotCounts, SlotState, WarmupResult } from "./Slot.js"
import {
  cacheGrantMs,
  cachedUntil,
  capacityLeft,
  isAlive,
  isLeaseLive,
  leaseDeadline,
  refillNeeded,
  releaseOutcome,
  toStats,
  totalContainers
} from "./Slot.js"

/** Bounds on the work one call or one alarm tick does. */
export const limits = {
  /** Container starts in parallel for refills and warmup. */
  startConcurrency: 8,
  /** Health checks and stops in parallel. */
  callConcurrency: 16,
  /** Slots health-checked, leases expired and orphans repaired per tick; a backlog re-arms the alarm at once. */
  tickPage: 256,
  /** Longest wait for a container's `getState()` during a health check. */
  statusTimeoutMs: 10_000
} as const

/** What one alarm tick did. */
export interface TickReport {
  readonly expired: number
  readonly dead: number
  readonly adopted: number
  readonly stopped: number
  readonly refilled: number
  /** Steps that failed; the alarm was re-armed regardless. */
  readonly failures: ReadonlyArray<string>
  /** When the alarm fires next, or null when the pool is idle. */
  readonly nextAlarm: number | null
}

export interface WarmPoolEngineService {
  /**
   * The container name leased to `sessionId`, assigning one if needed. The lease records the
   * sticky cache granted to the caller (`cacheGrantMs(config)`).
   */
  readonly getContainer: (
    sessionId: string,
    config: WarmPoolConfig
  ) => Effect.Effect<string, PoolExhausted | ContainerStartFailed | InvalidContainerBinding>
  /** Slides a live lease, as `getContainer` does, but never assigns: undefined when the id holds no live lease. */
  readonly renew: (sessionId: string, config: WarmPoolConfig) => Effect.Effect<string | undefined, InvalidContainerBinding>
  readonly release: (
    sessionId: string,
    config: WarmPoolConfig
  ) => Effect.Effect<ReleaseResult, InvalidContainerBinding>
  readonly stats: (config: WarmPoolConfig) => Effect.Effect<PoolStats, InvalidContainerBinding>
  /** Starts up to `count` more warm containers (default: up to `minContainers`), within the cap. */
  readonly warmup: (
    count: number | undefined,
    config: WarmPoolConfig
  ) => Effect.Effect<WarmupResult, ContainerStartFailed | InvalidContainerBinding>
  readonly shutdown: (config: WarmPoolConfig | undefined) => Effect.Effect<ShutdownResult, InvalidContainerBinding>
  /** One alarm tick: expire leases, repair orphans, health-check, refill, re-arm. */
  readonly tick: Effect.Effect<TickReport>
  /**
   * A container reported that it stopped: drop its slot now rather than at the next health check.
   * `container` is its name, or its Durable Object id (`ctx.id.toString()`), which a container always knows.
   */
  readonly containerStopped: (container: string) => Effect.Effect<boolean>
  /** Waits until background refills and stops have finished. */
  readonly settled: Effect.Effect<void>
}

export class WarmPoolEngine extends Context.Tag("cf-container-warm-pool/WarmPoolEngine")<
  WarmPoolEngine,
  WarmPoolEngineService
>() {
  static readonly make = Effect.gen(function*() {
    const store = yield* PoolStore
    const driver = yield* ContainerDriver
    const alarm = yield* PoolAlarm
    const background = yield* FiberSet.make<unknown, unknown>()
    const startPermits = yield* Effect.makeSemaphore(limits.startConcurrency)
    const flights = SingleFlight.make<string>()
    // Containers this instance is starting or stopping right now, with how many operations
    // hold each; anything else in a transitional state was left by an earlier instance and
    // is repaired by the tick.
    const inFlight = new Map<string, number>()
    const enter = (container: string) => void inFlight.set(container, (inFlight.get(container) ?? 0) + 1)
    const leave = (container: string) => {
      const n = (inFlight.get(container) ?? 1) - 1
      if (n <= 0) inFlight.delete(container)
      else inFlight.set(container, n)
    }

    let current: { readonly config: WarmPoolConfig; readonly key: string } | undefined
    let alarmArmed: boolean | undefined
    // Persisted: after a shutdown, a restarted instance must not warm the pool up again.
    let dormant: boolean | undefined
    const isDormant = Effect.suspend(() =>
      dormant === undefined ? Effect.tap(store.dormant, (value) => void (dormant = value)) : Effect.succeed(dormant)
    )
    const setDormant = (value: boolean) =>
      Effect.suspend(() =>
        dormant === value ? Effect.void : Effect.tap(store.setDormant(value), () => void (dormant = value))
      )

    const useConfig = (config: WarmPoolConfig) =>
      Effect.suspend(() => {
        const key = configKey(config)
        if (current?.key === key) return driver.resolve(config.containerBinding)
        return store.saveConfig(key).pipe(
          Effect.tap(() => void (current = { config, key })),
          Effect.zipRight(driver.resolve(config.containerBinding))
        )
      })

    const storedConfig: Effect.Effect<WarmPoolConfig | undefined> = Effect.suspend(() => {
      if (current !== undefined) return Effect.succeed(current.config)
      return store.loadConfig.pipe(
        Effect.flatMap((key) =>
          key === undefined
            ? Effect.succeed(undefined)
            : Effect.try(() => JSON.parse(key) as unknown).pipe(
              Effect.flatMap(decodeConfig),
              Effect.map((config) => {
                current = { config, key }
                return config
              }),
              Effect.orElseSucceed(() => undefined)
            )
        )
      )
    })

    /** A notice names a container by its name or, when that is all it knows, by its Durable Object id. */
    const slotOf = (reference: string) =>
      Effect.flatMap(
        store.slot(reference),
        (slot) =>
          slot !== undefined
            ? Effect.succeed(slot)
            : Effect.flatMap(
              store.containerByObjectId(reference),
              (name) => name === undefined ? Effect.succeed(undefined) : store.slot(name)
            )
      )

    /**
     * Names a new container and marks it in flight inside the reserving step, so no tick sees an orphan.
     * Whoever reserved it leaves with `launched`, whatever happens.
     */
    const newName = (config: WarmPoolConfig) => () => {
      const container = `${config.name}-${crypto.randomUUID()}`
      enter(container)
      return container
    }

    const tracked = (container: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(
        Effect.sync(() => enter(container)),
        () => effect,
        () => Effect.sync(() => leave(container))
      )

    const launched = (container: string) => Effect.ensuring(Effect.sync(() => leave(container)))

    const runInBackground = <A, E>(effect: Effect.Effect<A, E>) => Effect.asVoid(FiberSet.run(background, effect))

    // Stopping

    /** Destroys a stopping container and forgets it; if the destroy fails, the tick's repair retries it. */
    const stopTracked = (containers: Containers, container: string) =>
      containers.destroy(container).pipe(
        Effect.matchEffect({
          onFailure: (error) => Effect.logWarning(`warm pool: ${error.message}; retrying on the next tick`),
          onSuccess: () => store.remove(container)
        }),
        tracked(container)
      )

    /** Takes a container out of service for good: its slot goes stopping, then away. */
    const retire = (containers: Containers, container: string) =>
      store.markStopping(container).pipe(Effect.zipRight(stopTracked(containers, container)))

    // Starting

    const retrySchedule = (config: WarmPoolConfig) =>
      Schedule.exponential(Duration.millis(100)).pipe(
        Schedule.union(Schedule.spaced(Duration.seconds(5))),
        Schedule.jittered,
        Schedule.intersect(Schedule.recurs(config.startRetries))
      )

    /**
     * One start attempt; a failed, timed-out or interrupted attempt destroys what it began
     * and reports whether that destroy succeeded.
     */
    const startAttempt = (
      containers: Containers,
      container: string,
      config: WarmPoolConfig,
      onDestroyed: (ok: boolean) => void
    ) =>
      containers.start(container, config.ports).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(config.startupTimeout),
          onTimeout: () => ({ reason: `not ready within startupTimeout (${config.startupTimeout} ms)` })
        }),
        Effect.tapError(() => store.recordStartFailure),
        Effect.onExit((exit) =>
          Exit.isSuccess(exit)
            ? Effect.void
            : Effect.flatMap(Effect.exit(containers.destroy(container)), (destroyed) =>
              Effect.sync(() => onDestroyed(Exit.isSuccess(destroyed))))
        )
      )

    /**
     * Starts a container as a scoped resource and hands it over with `handOver`.
     * Until the hand-over succeeds, any failure or interruption stops the container;
     * its slot is removed only once the stop succeeded, so nothing is left running untracked.
     */
    const launch = (
      containers: Containers,
      container: string,
      config: WarmPoolConfig,
      handOver: Effect.Effect<boolean>
    ): Effect.Effect<void, ContainerStartFailed> => {
      // Whether the last failed attempt destroyed what it began; otherwise the container must still be stopped.
      let stopped = false
      return Effect.gen(function*() {
        let attempts = 0
        yield* Effect.suspend(() => {
          attempts++
          stopped = false
          return startAttempt(containers, container, config, (ok) => void (stopped = ok))
        }).pipe(
          Effect.retry(retrySchedule(config)),
          Effect.mapError((error: ContainerCallFailed | { readonly reason: string }) =>
            new ContainerStartFailed({ attempts, reason: error.reason })
          )
        )
        if (!(yield* handOver)) {
          return yield* new ContainerStartFailed({
            attempts,
            reason: "the pool stopped tracking the container while it started (shutdown)"
          })
        }
      }).pipe(
        Effect.onExit((exit) =>
          Exit.isSuccess(exit) ? Effect.void : stopped ? store.remove(container) : retire(containers, container)
        )
      )
    }

    const now = Clock.currentTimeMillis

    /** A lease's deadlines after a use at `at`; they also record any cache granted to the caller. */
    const termsAt = (at: number, config: WarmPoolConfig) => ({
      expiresAt: leaseDeadline(at, config),
      cachedUntil: cachedUntil(at, config)
    })

    const warmOne = (containers: Containers, container: string, config: WarmPoolConfig) =>
      launch(
        containers,
        container,
        config,
        Effect.flatMap(now, (t) => store.promote(container, t + config.healthCheckInterval))
      ).pipe(startPermits.withPermits(1), launched(container))

    /** Reserves warming slots as `howMany` says, at once, so they count against the cap. */
    const reserveWarming = (containers: Containers, config: WarmPoolConfig, howMany: (counts: SlotCounts) => number) =>
      store.reserve({
        state: "warming",
        sessionId: null,
        howMany,
        newName: newName(config),
        objectIdOf: containers.idOf,
        checkDueAt: 0
      })

    /** Starts reserved slots, with bounded parallel starts. */
    const warmAll = (containers: Containers, names: ReadonlyArray<string>, config: WarmPoolConfig) =>
      Effect.forEach(names, (name) => Effect.either(warmOne(containers, name, config)), { concurrency: "unbounded" })

    const warm = (containers: Containers, config: WarmPoolConfig, howMany: (counts: SlotCounts) => number) =>
      Effect.flatMap(reserveWarming(containers, config, howMany), (names) => warmAll(containers, names, config))

    const refill = (containers: Containers, config: WarmPoolConfig) =>
      warm(containers, config, (counts) => refillNeeded(counts, config))

    /** Reserves the refills now, in the caller's step, and starts them in the background. */
    const refillInBackground = (containers: Containers, config: WarmPoolConfig) =>
      Effect.flatMap(
        reserveWarming(containers, config, (counts) => refillNeeded(counts, config)),
        (names) => names.length === 0 ? Effect.void : runInBackground(warmAll(containers, names, config))
      )

    // Alarm

    /** How soon the alarm retries after a failure: soon, but never sooner than needed. */
    const retryDelay = (config: WarmPoolConfig) => Math.min(config.healthCheckInterval, 5_000)

    const arm = (at: number) => Effect.zipRight(alarm.set(at), Effect.sync(() => void (alarmArmed = true)))
    const disarm = Effect.zipRight(alarm.clear, Effect.sync(() => void (alarmArmed = false)))

    /** The first use of an idle pool arms the alarm and (unless told not to) starts warming toward `minContainers`. */
    const activate = (containers: Containers, config: WarmPoolConfig, options: { readonly refill: boolean }) =>
      Effect.gen(function*() {
        yield* setDormant(false)
        if (alarmArmed === undefined) {
          // This instance's first call. Starts and stops left by the instance before it are repaired by
          // the tick: run one now rather than up to a whole interval later.
          alarmArmed = (yield* alarm.get) !== null
          const counts = yield* store.counts
          if (counts.warming + counts.starting + counts.stopping > 0) yield* arm(yield* now)
        }
        if (alarmArmed) return
        yield* arm((yield* now) + config.healthCheckInterval)
        if (options.refill) yield* refillInBackground(containers, config)
      })

    const exhausted = (counts: SlotCounts, config: WarmPoolConfig) =>
      new PoolExhausted({
        warm: counts.warm,
        warming: counts.warming + counts.starting,
        acquired: counts.acquired,
        stopping: counts.stopping,
        maxContainers: config.maxContainers
      })

    // Operations

    /** Slides a live lease and answers its container; undefined when there is no lease or it expired. */
    const slideIfLive = (sessionId: string, lease: Lease | undefined, at: number, config: WarmPoolConfig) =>
      lease === undefined || !isLeaseLive(lease, at)
        ? Effect.succeed(undefined)
        : Effect.as(store.renewLease(sessionId, lease.container, termsAt(at, config)), lease.container)

    const assign = (containers: Containers, sessionId: string, config: WarmPoolConfig) =>
      Effect.gen(function*() {
        const at = yield* now
        const existing = yield* slideIfLive(sessionId, yield* store.lease(sessionId), at, config)
        if (existing !== undefined) return existing

        const warmContainer = yield* store.assignWarm(sessionId, termsAt(at, config))
        if (warmContainer !== undefined) {
          yield* refillInBackground(containers, config)
          return warmContainer
        }

        const [container] = yield* store.reserve({
          state: "starting",
          sessionId,
          howMany: (counts) => (capacityLeft(counts, config) > 0 ? 1 : 0),
          newName: newName(config),
          objectIdOf: containers.idOf,
          checkDueAt: at + config.healthCheckInterval
        })
        if (container === undefined) return yield* Effect.fail(exhausted(yield* store.counts, config))
        yield* launch(
          containers,
          container,
          config,
          Effect.flatMap(now, (t) => store.bind(container, sessionId, termsAt(t, config)))
        ).pipe(launched(container))
        yield* refillInBackground(containers, config)
        return container
      })

    const getContainer = (
      sessionId: string,
      config: WarmPoolConfig
    ): Effect.Effect<string, PoolExhausted | ContainerStartFailed | InvalidContainerBinding> =>
      Effect.gen(function*() {
        const containers = yield* useConfig(config)
        const at = yield* now
        const lease = yield* store.lease(sessionId)
        const live = yield* slideIfLive(sessionId, lease, at, config)
        if (live !== undefined) return live
        if (lease !== undefined) {
          // Expired: its holder may still use it, so it is recycled, never handed on.
          yield* store.markStopping(lease.container)
          yield* runInBackground(stopTracked(containers, lease.container))
        }
        // The alarm is armed before anything starts, so a start cut short by a reset is repaired.
        // Pre-warming comes after the assignment (assign refills), so it never takes the capacity this request needs.
        yield* activate(containers, config, { refill: false })
        let assignedHere = false
        const container = yield* flights.run(
          sessionId,
          Effect.zipLeft(assign(containers, sessionId, config), Effect.sync(() => void (assignedHere = true)))
        )
        // A call that joined another's assignment got it on that call's terms: record its own cache
        // grant too, and if the lease ended meanwhile, start over rather than hand out a container
        // a cache could then keep after it went to another id.
        if (!assignedHere && cacheGrantMs(config) > 0) {
          if (!(yield* store.renewLease(sessionId, container, termsAt(yield* now, config)))) {
            return yield* getContainer(sessionId, config)
          }
        }
        return container
      })

    const renew = (sessionId: string, config: WarmPoolConfig) =>
      Effect.gen(function*() {
        yield* useConfig(config)
        return yield* slideIfLive(sessionId, yield* store.lease(sessionId), yield* now, config)
      })

    const release = (sessionId: string, config: WarmPoolConfig) =>
      Effect.gen(function*() {
        const containers = yield* useConfig(config)
        const at = yield* now
        const released = yield* store.release(
          sessionId,
          (counts, lease) => releaseOutcome(counts, lease, at, config),
          at + config.healthCheckInterval
        )
        if (released === undefined) return { released: false, outcome: "unknown-session" } as const
        if (released.outcome === "stopped") yield* stopTracked(containers, released.container)
        return { released: true, outcome: released.outcome }
      })

    const stats = (config: WarmPoolConfig) =>
      Effect.gen(function*() {
        const containers = yield* useConfig(config)
        yield* activate(containers, config, { refill: true })
        return toStats(yield* store.counts, yield* store.startFailures, config)
      })

    const warmup = (count: number | undefined, config: WarmPoolConfig) =>
      Effect.gen(function*() {
        const containers = yield* useConfig(config)
        yield* activate(containers, config, { refill: false })
        const results = yield* warm(
          containers,
          config,
          (counts) => Math.min(count ?? refillNeeded(counts, config), capacityLeft(counts, config))
        )
        const failure = results.find(Either.isLeft)
        if (failure !== undefined) {
          const failed = results.filter(Either.isLeft).length
          return yield* new ContainerStartFailed({
            attempts: failure.left.attempts,
            reason: `${failed} of ${results.length} warmup starts failed; first: ${failure.left.reason}`
          })
        }
        return { started: results.length, warm: (yield* store.counts).warm }
      })

    const shutdown = (config: WarmPoolConfig | undefined) =>
      Effect.gen(function*() {
        const known = config ?? (yield* storedConfig)
        yield* setDormant(true)
        if (known === undefined) {
          yield* disarm
          return { stopped: 0 }
        }
        const containers = yield* useConfig(known)
        const names = yield* store.markAllStopping
        // Interrupting background starts runs their finalizers, which destroy what they began.
        yield* FiberSet.clear(background)
        yield* Effect.forEach(names, (name) => stopTracked(containers, name), {
          concurrency: limits.callConcurrency,
          discard: true
        })
        // A stop that failed stays tracked as stopping: the alarm stays armed to retry it.
        if (totalContainers(yield* store.counts) === 0) yield* disarm
        else yield* arm((yield* now) + retryDelay(known))
        return { stopped: names.length }
      })

    // The alarm tick

    const isDead = (containers: Containers, container: string) =>
      containers.status(container).pipe(
        Effect.timeout(Duration.millis(limits.statusTimeoutMs)),
        Effect.map((status) => !isAlive(status)),
        Effect.orElseSucceed(() => true)
      )

    const expireStep = (containers: Containers, at: number) =>
      Effect.gen(function*() {
        const expired = yield* store.expireLeases(at, limits.tickPage)
        yield* Effect.forEach(expired, (name) => stopTracked(containers, name), {
          concurrency: limits.callConcurrency,
          discard: true
        })
        return expired.length
      })

    const orphans = (state: SlotState) =>
      Effect.map(
        store.inState(state, limits.tickPage),
        (slots) => slots.filter((slot) => !inFlight.has(slot.container))
      )

    /** Slots left mid-start or mid-stop by an earlier instance: adopt what runs, stop the rest. */
    const repairStep = (containers: Containers, config: WarmPoolConfig, at: number) =>
      Effect.gen(function*() {
        const starting = [...(yield* orphans("warming")), ...(yield* orphans("starting"))]
        const stopping = yield* orphans("stopping")
        const dead = yield* Effect.forEach(starting, (slot) => isDead(containers, slot.container), {
          concurrency: limits.callConcurrency
        })
        // Decided one by one: a running orphan joins the warm set only while it is short, counting
        // neither itself nor the orphans still undecided, so adoption never overfills it.
        let undecided = starting.filter((slot) => slot.state === "warming").length
        const adoptWhileShort = (counts: SlotCounts) => counts.warm + counts.warming - undecided < config.minContainers
        const toStop: Array<string> = []
        let adopted = 0
        for (const [i, slot] of starting.entries()) {
          const promoted = !dead[i] &&
            (yield* store.promote(slot.container, at + config.healthCheckInterval, adoptWhileShort))
          if (slot.state === "warming") undecided--
          if (promoted) adopted++
          else {
            yield* store.markStopping(slot.container)
            toStop.push(slot.container)
          }
        }
        yield* Effect.forEach([...toStop, ...stopping.map((slot) => slot.container)], (container) =>
          stopTracked(containers, container), { concurrency: limits.callConcurrency, discard: true })
        return { adopted, stopped: toStop.length + stopping.length }
      })

    const healthStep = (containers: Containers, config: WarmPoolConfig, at: number) =>
      Effect.gen(function*() {
        const due = yield* store.dueForCheck(at, limits.tickPage)
        const dead = yield* Effect.forEach(due, (slot) =>
          Effect.if(isDead(containers, slot.container), {
            onTrue: () => Effect.as(retire(containers, slot.container), true),
            onFalse: () =>
              Effect.as(
                Effect.zipRight(
                  slot.state === "warm" ? Effect.ignore(containers.keepAlive(slot.container)) : Effect.void,
                  store.scheduleCheck(slot.container, at + config.healthCheckInterval)
                ),
                false
              )
          }), { concurrency: limits.callConcurrency })
        return { dead: dead.filter(Boolean).length, backlog: due.length === limits.tickPage }
      })

    const idleReport = { expired: 0, dead: 0, adopted: 0, stopped: 0, refilled: 0 }

    const tickSteps: Effect.Effect<TickReport> = Effect.gen(function*() {
      const config = yield* storedConfig
      if (config === undefined) {
        yield* disarm
        return { ...idleReport, failures: [], nextAlarm: null }
      }
      // A safety net first: should this tick be cut short by a reset, the alarm still fires again.
      yield* arm((yield* now) + retryDelay(config))
      const sleeping = yield* isDormant
      const failures: Array<string> = []
      let backlog = false
      const step = <A>(name: string, effect: Effect.Effect<A, unknown>, fallback: A) =>
        effect.pipe(
          Effect.catchAllCause((cause) =>
            Effect.sync(() => {
              failures.push(name)
              return fallback
            }).pipe(Effect.tap(() => Effect.logWarning(`warm pool alarm: ${name} failed`, cause)))
          )
        )

      const rearm = Effect.gen(function*() {
        const counts = yield* store.counts
        const nothingHeld = totalContainers(counts) === 0 && counts.sessions === 0
        if (nothingHeld && (sleeping || config.minContainers === 0)) {
          yield* disarm
          return null
        }
        // A failed step or a backlog retries soon rather than a whole interval later.
        const delay = backlog ? 0 : failures.length > 0 ? retryDelay(config) : config.healthCheckInterval
        const at = (yield* now) + delay
        yield* arm(at)
        return at
      }).pipe(Effect.catchAllCause((cause) =>
        Effect.sync(() => void failures.push("re-arm")).pipe(
          Effect.zipRight(Effect.logWarning("warm pool alarm: re-arm failed; the safety alarm stands", cause)),
          Effect.zipRight(Effect.flatMap(now, (t) => Effect.as(Effect.exit(arm(t + retryDelay(config))), t + retryDelay(config))))
        )
      ))

      const work = Effect.gen(function*() {
        const containers = yield* driver.resolve(config.containerBinding)
        const at = yield* now
        const expired = yield* step("lease expiry", expireStep(containers, at), 0)
        if (expired === limits.tickPage) backlog = true
        const repaired = yield* step("orphan repair", repairStep(containers, config, at), { adopted: 0, stopped: 0 })
        const health = yield* step("health check", healthStep(containers, config, at), { dead: 0, backlog: false })
        if (health.backlog) backlog = true
        // A shut-down pool only finishes its stops; it warms up again when next used.
        const refilled = sleeping ? 0 : yield* step(
          "refill",
          Effect.map(refill(containers, config), (results) => results.filter(Either.isRight).length),
          0
        )
        return { expired, dead: health.dead, adopted: repaired.adopted, stopped: repaired.stopped, refilled }
      })
      const done = yield* step("container binding", work, idleReport)
      const nextAlarm = yield* rearm
      return { ...done, failures, nextAlarm }
    })

    /** Never fails: whatever throws (a storage error reading the config), the alarm is re-armed to retry soon. */
    const tick: Effect.Effect<TickReport> = tickSteps.pipe(
      Effect.catchAllCause((cause) =>
        Effect.gen(function*() {
          yield* Effect.logWarning("warm pool alarm: tick failed; retrying soon", cause)
          const at = (yield* now) + 5_000
          const armed = yield* Effect.exit(arm(at))
          return { ...idleReport, failures: ["tick"], nextAlarm: Exit.isSuccess(armed) ? at : null }
        })
      )
    )

    const containerStopped = (reference: string) =>
      Effect.gen(function*() {
        const config = yield* storedConfig
        if (config === undefined) return false
        const containers = yield* Effect.orElseSucceed(driver.resolve(config.containerBinding), () => undefined)
        const slot = yield* slotOf(reference)
        if (slot === undefined || inFlight.has(slot.container)) return false
        if (slot.state !== "warm" && slot.state !== "acquired") return false
        const container = slot.container
        yield* store.markStopping(container)
        if (containers === undefined) yield* store.remove(container)
        else yield* runInBackground(stopTracked(containers, container))
        if (containers !== undefined && !(yield* isDormant)) yield* refillInBackground(containers, config)
        return true
      })

    return WarmPoolEngine.of({
      getContainer,
      renew,
      release,
      stats,
      warmup,
      shutdown,
      tick,
      containerStopped,
      settled: FiberSet.awaitEmpty(background)
    })
  })

  static readonly layer: Layer.Layer<WarmPoolEngine, never, PoolStore | ContainerDriver | PoolAlarm> = Layer.scoped(
    WarmPoolEngine,
    WarmPoolEngine.make
  )
}
