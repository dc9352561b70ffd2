/**
 * The model-based test's parts: the generated operations, a small model of the pool's
 * contract, and a runner that applies each operation to both and checks the invariants
 * after every step. The real engine runs on a restartable in-memory world, on a manual clock.
 */
import { expect } from "@effect/vitest"
import { Cause, Clock, Context, Duration, Effect, Exit, FastCheck as fc, Fiber, Logger, LogLevel, Option, Random, Scheduler } from "effect"
import type { WarmPoolConfig } from "../../src/Config.js"
import { totalContainers } from "../../src/internal/policy.js"
import { config as makeConfig } from "./FakeContainers.js"
import { makeManualClock, type ManualClock } from "./ManualClock.js"
import { makeWorld, type World } from "./RestartableWorld.js"

class ManualClockTag extends Context.Tag("test/ManualClock")<ManualClockTag, ManualClock>() {}

const ids = ["a", "b", "c", "d", "e"] as const

export type Op =
  | { readonly _tag: "get"; readonly id: string }
  | { readonly _tag: "release"; readonly id: string }
  | { readonly _tag: "warmup"; readonly count: number | undefined }
  | { readonly _tag: "shutdown" }
  | { readonly _tag: "stats" }
  | { readonly _tag: "advance"; readonly ms: number }
  | { readonly _tag: "alarm" }
  | { readonly _tag: "crash"; readonly pick: number; readonly notify: boolean }
  | { readonly _tag: "startFailures"; readonly n: number }
  | { readonly _tag: "slowStarts"; readonly on: boolean }
  | { readonly _tag: "statusFails"; readonly on: boolean }
  | { readonly _tag: "destroyFails"; readonly on: boolean }
  | { readonly _tag: "storageErrors"; readonly n: number }
  | { readonly _tag: "clearFaults" }
  | {
    readonly _tag: "restart"
    readonly during: "idle" | "get" | "release" | "alarm"
    readonly id: string
    readonly yields: number
    readonly advanceMs: number
  }

export interface Scenario {
  readonly config: WarmPoolConfig
  readonly startDelayMs: number
  readonly seed: number
  readonly ops: ReadonlyArray<Op>
}

const id = fc.constantFrom(...ids)
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 30, arbitrary: id.map((id) => ({ _tag: "get" as const, id })) },
  { weight: 12, arbitrary: id.map((id) => ({ _tag: "release" as const, id })) },
  { weight: 3, arbitrary: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }).map((count) => ({ _tag: "warmup" as const, count })) },
  { weight: 1, arbitrary: fc.constant({ _tag: "shutdown" as const }) },
  { weight: 3, arbitrary: fc.constant({ _tag: "stats" as const }) },
  { weight: 10, arbitrary: fc.constantFrom(100, 1_000, 5_000, 30_000, 70_000).map((ms) => ({ _tag: "advance" as const, ms })) },
  { weight: 12, arbitrary: fc.constant({ _tag: "alarm" as const }) },
  { weight: 5, arbitrary: fc.record({ pick: fc.nat(10), notify: fc.boolean() }).map((r) => ({ _tag: "crash" as const, ...r })) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => ({ _tag: "startFailures" as const, n })) },
  { weight: 2, arbitrary: fc.boolean().map((on) => ({ _tag: "slowStarts" as const, on })) },
  { weight: 2, arbitrary: fc.boolean().map((on) => ({ _tag: "statusFails" as const, on })) },
  { weight: 2, arbitrary: fc.boolean().map((on) => ({ _tag: "destroyFails" as const, on })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => ({ _tag: "storageErrors" as const, n })) },
  { weight: 4, arbitrary: fc.constant({ _tag: "clearFaults" as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      during: fc.constantFrom("idle" as const, "get" as const, "release" as const, "alarm" as const),
      id,
      yields: fc.nat(8),
      advanceMs: fc.constantFrom(0, 0, 50, 300, 2_000)
    }).map((r) => ({ _tag: "restart" as const, ...r }))
  }
)

export const scenarioArbitrary = (steps: { min: number; max: number }): fc.Arbitrary<Scenario> =>
  fc.record({
    maxContainers: fc.integer({ min: 1, max: 6 }),
    minFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    acquireTimeout: fc.constantFrom(2_000, 10_000, 60_000),
    healthCheckInterval: fc.constantFrom(1_000, 5_000),
    startupTimeout: fc.constantFrom(500, 3_000),
    startRetries: fc.integer({ min: 0, max: 2 }),
    startDelayMs: fc.constantFrom(0, 0, 100),
    seed: fc.nat(),
    ops: fc.array(opArbitrary, { minLength: steps.min, maxLength: steps.max })
  }).map((r) => ({
    config: makeConfig({
      maxContainers: r.maxContainers,
      minContainers: Math.floor(r.minFraction * (r.maxContainers + 1)) > r.maxContainers
        ? r.maxContainers
        : Math.floor(r.minFraction * (r.maxContainers + 1)),
      acquireTimeout: r.acquireTimeout,
      healthCheckInterval: r.healthCheckInterval,
      startupTimeout: r.startupTimeout,
      startRetries: r.startRetries
    }),
    startDelayMs: r.startDelayMs,
    seed: r.seed,
    ops: r.ops
  }))

/** What the model knows of one id's lease. Deadlines are a range when the clock moved during the call. */
interface ModelLease {
  container: string
  lo: number
  hi: number
  /** False when the pool may or may not have ended it (a crash, a tick at the deadline). */
  sure: boolean
}

class Model {
  readonly leases = new Map<string, ModelLease>()
  /** The id each container was handed to: it goes to no other id unless released back to warm. */
  readonly holder = new Map<string, string>()
  /** Containers that must never be handed out again (released-stopped, expired). */
  readonly retired = new Set<string>()
  readonly crashed = new Set<string>()
  /** warmup(count) may warm past minContainers, which the pool does not trim. */
  overWarmed = false
  /**
   * Whether a start fault was injected since this instance booted: only then may the start governor's
   * breaker (in memory, so a restart closes it) have opened.
   */
  startFaultsSinceBoot = false

  retire(container: string) {
    this.retired.add(container)
  }
}

const now = Clock.currentTimeMillis

/**
 * The default scheduler, counting the tasks it holds: while any is queued, some fiber can still
 * run, so no fiber can be said to wait on time yet.
 */
export class CountingScheduler implements Scheduler.Scheduler {
  queued = 0
  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>) {
    return Scheduler.defaultScheduler.shouldYield(fiber)
  }
  scheduleTask(task: Scheduler.Task, priority: number) {
    this.queued++
    Scheduler.defaultScheduler.scheduleTask(() => {
      this.queued--
      task()
    }, priority)
  }
}

class SchedulerTag extends Context.Tag("test/CountingScheduler")<SchedulerTag, CountingScheduler>() {}

/**
 * Runs a forked operation to its end. When it waits on time, the clock jumps to the next
 * pending sleep. A call that never ends fails the test: no call may hang.
 *
 * Waiting on time means no other fiber can run: nothing is queued on the scheduler for two turns
 * running (a promise the engine awaits resolves between them). Jumping earlier would fire the
 * engine's own timers (a tick's work budget, a call's bound) while it is merely busy.
 */
const drive = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function*() {
    const manual = yield* ManualClockTag
    const scheduler = yield* SchedulerTag
    for (let i = 0; i < 1_000; i++) {
      for (let idle = 0; idle < 2;) {
        const exit = yield* Fiber.poll(fiber)
        if (Option.isSome(exit)) return exit.value
        yield* Effect.yieldNow()
        idle = scheduler.queued === 0 ? idle + 1 : 0
      }
      const next = yield* manual.nextWake
      yield* next === undefined ? manual.advance(100) : manual.advanceTo(next)
    }
    return yield* Effect.die(new Error("an operation never finished"))
  })

const settle = (world: World) => Effect.flatMap(Effect.forkDaemon(world.engine.settled), drive)

/** Invariants that hold after every step, read from the stored rows and the containers. */
const checkInvariants = (world: World, scenario: Scenario, model: Model, step: string) =>
  Effect.gen(function*() {
    const { leases, slots } = yield* world.store.snapshot
    const counts = yield* world.store.counts
    const recount = { warming: 0, starting: 0, warm: 0, acquired: 0, stopping: 0 }
    for (const slot of slots) recount[slot.state]++
    expect(counts, `${step}: stats() equals a recount of the stored rows`).toEqual(recount)
    expect(totalContainers(counts), `${step}: never more than maxContainers`).toBeLessThanOrEqual(
      scenario.config.maxContainers
    )
    const byContainer = new Map(slots.map((slot) => [slot.container, slot]))
    expect(new Set(leases.map((l) => l.container)).size, `${step}: no container leased to two ids`).toBe(leases.length)
    for (const lease of leases) {
      const slot = byContainer.get(lease.container)
      expect(slot, `${step}: lease ${lease.sessionId} has its slot`).toMatchObject({
        state: "acquired",
        sessionId: lease.sessionId
      })
    }
    expect(slots.filter((s) => s.state === "acquired").length, `${step}: every acquired slot has a lease`).toBe(
      leases.length
    )
    for (const running of world.fake.running()) {
      expect(byContainer.has(running), `${step}: running container ${running} is tracked (no orphan)`).toBe(true)
    }
    if (slots.length > 0 || leases.length > 0) {
      expect(yield* world.alarm.get, `${step}: a pool that holds containers has its alarm armed`).not.toBeNull()
    }
    // The model's sure leases are all still there: nothing lost, not even across restarts.
    const at = yield* now
    for (const [sessionId, lease] of model.leases) {
      if (!lease.sure || at >= lease.lo) continue
      expect(leases.find((l) => l.sessionId === sessionId)?.container, `${step}: ${sessionId} keeps its lease`).toBe(
        lease.container
      )
    }
  })

/** After a call the model cannot predict (aborted or hit by a storage error), it learns the leases from the store. */
const resync = (world: World, model: Model) =>
  Effect.gen(function*() {
    const { leases, slots } = yield* world.store.snapshot
    const warm = new Set(slots.filter((s) => s.state === "warm").map((s) => s.container))
    for (const [container] of model.holder) if (warm.has(container)) model.holder.delete(container)
    for (const [sessionId, lease] of model.leases) {
      if (!leases.some((l) => l.sessionId === sessionId)) {
        model.leases.delete(sessionId)
        if (!warm.has(lease.container)) model.retire(lease.container)
      }
    }
    for (const lease of leases) {
      model.leases.set(lease.sessionId, { container: lease.container, lo: lease.expiresAt, hi: lease.expiresAt, sure: true })
      model.holder.set(lease.container, lease.sessionId)
    }
  })

/** A success, or a typed failure of the contract; a storage fault surfaces as `PoolUnavailable`, as it does over RPC. */
const isPlain = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ||
  (Cause.isFailType(exit.cause) && (exit.cause.error as { _tag?: string })._tag !== "PoolUnavailable")

export const runScenario = (scenario: Scenario, counter: { steps: number }) => {
  const manual = makeManualClock()
  const scheduler = new CountingScheduler()
  return Effect.gen(function*() {
    const { config } = scenario
    const world = makeWorld()
    yield* world.boot
    const model = new Model()
    const fake = world.fake
    const normalDelay = Duration.millis(scenario.startDelayMs)
    fake.behaviour.startDelay = normalDelay
    let slowStarts = false
    // Fault flags the model uses to tell allowed failures from bugs.
    const startFaultsActive = () => slowStarts || fake.behaviour.failNextStarts > 0

    const handedOut = (sessionId: string, container: string, t0: number, t1: number, step: string) => {
      const other = model.holder.get(container)
      expect(other === undefined || other === sessionId, `${step}: ${container} was ${other}'s, handed to ${sessionId}`)
        .toBe(true)
      expect(model.retired.has(container), `${step}: retired container ${container} handed out again`).toBe(false)
      for (const [otherId, lease] of model.leases) {
        if (otherId !== sessionId) expect(lease.container, `${step}: two ids share a container`).not.toBe(container)
      }
      model.holder.set(container, sessionId)
      model.leases.set(sessionId, {
        container,
        lo: t0 + config.acquireTimeout,
        hi: t1 + config.acquireTimeout,
        sure: true
      })
    }

    const get = (sessionId: string, step: string) =>
      Effect.gen(function*() {
        const t0 = yield* now
        const prior = model.leases.get(sessionId)
        const startFaults = startFaultsActive()
        const storageFaults = world.faults.storageErrors > 0
        const exit = yield* Effect.flatMap(Effect.forkDaemon(world.engine.getContainer(sessionId, config)), drive)
        const t1 = yield* now
        if (!isPlain(exit)) {
          expect(storageFaults, `${step}: getContainer died without a storage fault: ${Cause.pretty((exit as any).cause)}`)
            .toBe(true)
          return yield* resync(world, model)
        }
        const keeps = prior !== undefined && prior.sure && !model.crashed.has(prior.container) && t0 < prior.lo
        if (Exit.isFailure(exit)) {
          const error = Cause.failureOption(exit.cause).pipe(Option.getOrThrow)
          expect(keeps, `${step}: ${sessionId} holds a live lease yet got ${error._tag}`).toBe(false)
          if (error._tag === "PoolExhausted") {
            expect(error.warm, `${step}: exhausted with warm containers`).toBe(0)
            expect(error.warming + error.acquired + error.stopping).toBeGreaterThanOrEqual(config.maxContainers)
          } else {
            expect(error._tag, `${step}: unexpected ${error._tag}`).toBe("ContainerStartFailed")
            // The start governor's breaker, opened by earlier start faults, fails a cold start fast.
            const breakerOpen = error.reason.includes("circuit breaker is open")
            expect(startFaults || slowStarts || breakerOpen, `${step}: a start failed with no start fault`).toBe(true)
            if (breakerOpen) expect(model.startFaultsSinceBoot, `${step}: breaker open with no start fault`).toBe(true)
          }
          if (prior !== undefined && t0 >= prior.hi) {
            model.leases.delete(sessionId)
            model.retire(prior.container)
          }
          return yield* resync(world, model)
        }
        const container = exit.value
        if (keeps) expect(container, `${step}: ${sessionId} keeps its container`).toBe(prior!.container)
        if (prior !== undefined && prior.sure && t0 >= prior.hi) {
          expect(container, `${step}: an expired container is recycled, not reused`).not.toBe(prior.container)
        }
        if (prior !== undefined && container !== prior.container) {
          model.leases.delete(sessionId)
          model.retire(prior.container)
        }
        expect(fake.status.get(container) === "healthy" || model.crashed.has(container), `${step}: handed a container that is not running`)
          .toBe(true)
        handedOut(sessionId, container, t0, t1, step)
      })

    const release = (sessionId: string, step: string) =>
      Effect.gen(function*() {
        const t0 = yield* now
        const prior = model.leases.get(sessionId)
        const storageFaults = world.faults.storageErrors > 0
        const exit = yield* Effect.exit(world.engine.release(sessionId, config))
        if (!Exit.isSuccess(exit)) {
          expect(storageFaults, `${step}: release failed without a storage fault`).toBe(true)
          return yield* resync(world, model)
        }
        const result = exit.value
        if (prior === undefined) {
          expect(result, `${step}: releasing an id without a lease`).toEqual({ released: false, outcome: "unknown-session" })
        } else if (prior.sure && !model.crashed.has(prior.container)) {
          expect(result.released, `${step}: ${sessionId} held a lease`).toBe(true)
          if (t0 >= prior.hi) expect(result.outcome, `${step}: an expired lease is stopped`).toBe("stopped")
        }
        if (prior !== undefined) {
          model.leases.delete(sessionId)
          if (result.outcome === "warm") model.holder.delete(prior.container)
          else model.retire(prior.container)
        }
      })

    /** The alarm as the runtime fires it: at its time, deleted before the handler runs. */
    const fireAlarm = (step: string) =>
      Effect.gen(function*() {
        const at = yield* world.alarm.get
        if (at === null) return false
        const t = yield* now
        if (at > t) yield* manual.advanceTo(at)
        yield* world.alarm.clear
        const tickTime = yield* now
        const exit = yield* Effect.flatMap(Effect.forkDaemon(world.engine.tick), drive)
        expect(Exit.isSuccess(exit), `${step}: the tick never fails`).toBe(true)
        if (Exit.isSuccess(exit)) expect(exit.value.nextAlarm === null || exit.value.nextAlarm > tickTime).toBe(true)
        afterTick(tickTime)
        return true
      })

    const afterTick = (tickTime: number) => {
      for (const [sessionId, lease] of model.leases) {
        if (!lease.sure) continue
        if (lease.hi <= tickTime) {
          model.leases.delete(sessionId)
          model.retire(lease.container)
        } else if (lease.lo <= tickTime || model.crashed.has(lease.container) || fake.behaviour.statusFails) {
          lease.sure = false
        }
      }
    }

    const restart = (op: Extract<Op, { _tag: "restart" }>, step: string) =>
      Effect.gen(function*() {
        const tickTime = yield* now
        const during: Effect.Effect<unknown, unknown> | undefined = op.during === "get"
          ? world.engine.getContainer(op.id, config)
          : op.during === "release"
          ? world.engine.release(op.id, config)
          : op.during === "alarm"
          ? Effect.zipRight(world.alarm.clear, world.engine.tick)
          : undefined
        const fiber = during === undefined ? undefined : yield* Effect.forkDaemon(during)
        for (let i = 0; i < op.yields; i++) yield* Effect.yieldNow()
        if (op.advanceMs > 0) yield* manual.advance(op.advanceMs)
        // Leases the model is sure of must survive the restart (a tick in progress may end some legitimately).
        const tickMayEnd = op.during === "alarm" && fake.behaviour.statusFails
        const sure = [...model.leases].filter(([sessionId, l]) =>
          l.sure && sessionId !== op.id && !model.crashed.has(l.container) && !tickMayEnd
        )
        // The call in progress dies with the instance; its caller would see an error.
        const exit = fiber === undefined ? Option.none() : yield* Fiber.poll(fiber)
        yield* world.restart
        // A new instance starts with the breaker closed; faults still on count from here.
        model.startFaultsSinceBoot = slowStarts || fake.behaviour.failNextStarts > 0
        if (op.during === "alarm") {
          afterTick(tickTime)
          // The runtime retries an alarm handler that did not complete.
          const completed = Option.isSome(exit) && Exit.isSuccess(exit.value)
          if (!completed && (yield* world.alarm.get) === null) yield* world.alarm.set(yield* now)
        }
        const t = yield* now
        const stored = (yield* world.store.snapshot).leases
        for (const [sessionId, lease] of sure) {
          if (t >= lease.lo || (op.during === "alarm" && lease.lo <= tickTime)) continue
          expect(stored.find((l) => l.sessionId === sessionId)?.container, `${step}: restart lost ${sessionId}'s lease`)
            .toBe(lease.container)
        }
        yield* resync(world, model)
      })

    const clearFaults = () => {
      fake.behaviour.failNextStarts = 0
      fake.behaviour.statusFails = false
      fake.behaviour.destroyFails = false
      fake.behaviour.startDelay = normalDelay
      slowStarts = false
      world.faults.storageErrors = 0
    }

    for (const [index, op] of scenario.ops.entries()) {
      const step = `step ${index} ${JSON.stringify(op)}`
      counter.steps++
      switch (op._tag) {
        case "get":
          yield* get(op.id, step)
          break
        case "release":
          yield* release(op.id, step)
          break
        case "warmup": {
          const startFaults = startFaultsActive()
          const storageFaults = world.faults.storageErrors > 0
          const exit = yield* Effect.flatMap(Effect.forkDaemon(world.engine.warmup(op.count, config)), drive)
          if (op.count !== undefined) model.overWarmed = true
          if (Exit.isFailure(exit)) {
            const error = Cause.failureOption(exit.cause)
            if (Option.isSome(error) && error.value._tag !== "PoolUnavailable") {
              expect(error.value._tag).toBe("ContainerStartFailed")
              expect(startFaults, `${step}: warmup failed with no start fault`).toBe(true)
            } else {
              expect(storageFaults, `${step}: warmup died without a storage fault`).toBe(true)
            }
          }
          break
        }
        case "shutdown": {
          const storageFaults = world.faults.storageErrors > 0
          const exit = yield* Effect.flatMap(Effect.forkDaemon(world.engine.shutdown(config)), drive)
          expect(Exit.isSuccess(exit) || storageFaults, `${step}: shutdown failed`).toBe(true)
          if (Exit.isSuccess(exit) && !storageFaults && !fake.behaviour.destroyFails) {
            yield* settle(world)
            expect(fake.running(), `${step}: shutdown stops every container`).toEqual([])
            expect(yield* world.store.snapshot).toEqual({ slots: [], leases: [] })
          }
          yield* resync(world, model)
          if (Exit.isSuccess(exit)) model.overWarmed = false
          break
        }
        case "stats": {
          const exit = yield* Effect.exit(world.engine.stats(config))
          if (Exit.isSuccess(exit)) {
            // Read with no yield in between: nothing can change the rows after stats() returned.
            const { leases, slots } = yield* world.store.snapshot
            const count = (...states: ReadonlyArray<string>) => slots.filter((s) => states.includes(s.state)).length
            expect(exit.value, `${step}: stats() equals a recount of the stored rows`).toMatchObject({
              warm: count("warm"),
              acquired: count("acquired"),
              warming: count("warming", "starting"),
              stopping: count("stopping"),
              total: slots.length,
              sessions: leases.length
            })
            expect(exit.value.total).toBeLessThanOrEqual(config.maxContainers)
          }
          break
        }
        case "advance":
          yield* manual.advance(op.ms)
          break
        case "alarm":
          yield* fireAlarm(step)
          break
        case "crash": {
          const running = [...fake.running()].sort()
          if (running.length === 0) break
          const victim = running[op.pick % running.length]!
          fake.kill(victim)
          model.crashed.add(victim)
          for (const lease of model.leases.values()) if (lease.container === victim) lease.sure = false
          if (op.notify) {
            const exit = yield* Effect.exit(world.engine.containerStopped(victim))
            if (Exit.isSuccess(exit) && exit.value) {
              const slot = yield* world.store.slot(victim)
              expect(slot === undefined || slot.state === "stopping", `${step}: containerStopped takes it out of service`)
                .toBe(true)
              yield* settle(world)
              // Its slot goes as soon as the destroy succeeds; a failed destroy is retried by the tick.
              if (!fake.behaviour.destroyFails) expect(yield* world.store.slot(victim)).toBeUndefined()
            }
            yield* resync(world, model)
          }
          break
        }
        case "startFailures":
          fake.behaviour.failNextStarts += op.n
          model.startFaultsSinceBoot = true
          break
        case "slowStarts":
          slowStarts = op.on
          model.startFaultsSinceBoot ||= op.on
          fake.behaviour.startDelay = op.on ? Duration.millis(config.startupTimeout + 1) : normalDelay
          break
        case "statusFails":
          fake.behaviour.statusFails = op.on
          break
        case "destroyFails":
          fake.behaviour.destroyFails = op.on
          break
        case "storageErrors":
          world.faults.storageErrors += op.n
          break
        case "clearFaults":
          clearFaults()
          break
        case "restart":
          yield* restart(op, step)
          break
      }
      // A storage error spent on a background fiber leaves no trace the model can predict.
      if (world.faults.storageErrors > 0 || op._tag === "storageErrors") {
        for (const lease of model.leases.values()) lease.sure = false
      }
      yield* checkInvariants(world, scenario, model, step)
    }

    // With the faults gone, the alarm brings the pool to its target, once the start breaker (opened by
    // the faults, `stats().breaker`) lets refills start again: it pauses them until its cooldown ends.
    clearFaults()
    const breaker = yield* Effect.map(Effect.either(world.engine.stats(config)), (s) => s._tag === "Right" ? s.right.breaker : undefined)
    if (breaker?.state === "open") {
      expect(model.startFaultsSinceBoot, "the breaker opened with no start fault").toBe(true)
      yield* manual.advanceTo(breaker.reopensAt!)
    }
    for (let round = 0; round < 6; round++) {
      if (!(yield* fireAlarm(`converge ${round}`))) break
      yield* settle(world)
      yield* checkInvariants(world, scenario, model, `converge ${round}`)
    }
    const { slots } = yield* world.store.snapshot
    const counts = yield* world.store.counts
    if ((yield* world.alarm.get) === null) {
      expect(slots, "an unarmed pool holds nothing").toEqual([])
    } else {
      expect(counts, "no start or stop left pending").toMatchObject({ warming: 0, starting: 0, stopping: 0 })
      const target = Math.min(config.minContainers, config.maxContainers - counts.acquired)
      if (model.overWarmed) expect(counts.warm).toBeGreaterThanOrEqual(target)
      else expect(counts.warm, "warm converges to min(minContainers, maxContainers - acquired)").toBe(target)
    }
    expect([...fake.running()].sort(), "exactly the tracked containers run").toEqual(
      slots.map((s) => s.container).sort()
    )
  }).pipe(
    Effect.scoped,
    Effect.provideService(ManualClockTag, manual),
    Effect.provideService(SchedulerTag, scheduler),
    Effect.withScheduler(scheduler),
    Effect.withClock(manual.clock),
    Effect.withRandom(Random.make(scenario.seed)),
    // Injected faults make the engine log warnings by design; the assertions speak for failures.
    Logger.withMinimumLogLevel(LogLevel.None)
  )
}

const runProperty = (options: { seed: number; runs: number; steps: { min: number; max: number } }) => {
  const counter = { steps: 0 }
  const result = fc.check(
    fc.asyncProperty(scenarioArbitrary(options.steps), (scenario) =>
      Effect.runPromise(runScenario(scenario, counter))
    ),
    { seed: options.seed, numRuns: options.runs, endOnFailure: false }
  )
  return { result, counter }
}

/** Fails with the seed and the shrunk counterexample, so any failure can be replayed. */
export const assertProperty = async (options: { seed: number; runs: number; steps: { min: number; max: number } }) => {
  const { counter, result } = runProperty(options)
  const details = await result
  if (details.failed) {
    const message = fc.defaultReportMessage(details) ?? "property failed"
    console.error(`Model-based test failed. Replay with seed ${options.seed}.\n${message}`)
    throw new Error(message)
  }
  return counter.steps
}

