/**
 * Runs one interleaved schedule: the scenario's actors run at once against the real engine (over the
 * restartable in-memory world, on a manual clock), and `fc.scheduler()` releases one waiting step at a
 * time: an actor's next call, a container call or its answer, a storage call. After every released
 * step the invariants are checked. Time moves only when every fiber waits on it, so a call's bounds
 * elapse (a hung container is given up on) without real waiting.
 */
import type { FastCheck as fc } from "effect"
import { Cause, Clock, Deferred, Duration, Effect, Exit, Fiber, FiberRef, Logger, LogLevel, Option, Random } from "effect"
import { holdRenewalMs } from "../../../src/internal/holdPolicy.js"
import { makeManualClock } from "../ManualClock.js"
import { CountingScheduler } from "../PoolModel.js"
import type { PoolUnderTest } from "../PoolUnderTest.js"
import { makeWorld, type World } from "../RestartableWorld.js"
import {
  currentCall,
  describeAction,
  emptyDatabase,
  gateOf,
  type Hangs,
  quiesce,
  scheduledContainers,
  scoped
} from "./Harness.js"
import { checkInvariants, must } from "./Invariants.js"
import { type Call, type CallKind, Ledger } from "./Ledger.js"
import type { Action, Scenario } from "./Scenario.js"

/** Scheduled steps one schedule may take before it counts as running away. */
const maxSteps = 5_000
/** Alarms the runtime fires by itself in one schedule (actors may fire more). */
const maxAlarms = 8

const now = Clock.currentTimeMillis

type Actor = Fiber.RuntimeFiber<void, unknown>

class Schedule {
  readonly manual = makeManualClock()
  readonly scheduler = new CountingScheduler()
  readonly gate: (label: string) => Effect.Effect<void>
  readonly hangs: Hangs = { calls: new Map(), nextStarts: 0 }
  readonly world: World
  readonly ledger: Ledger
  /** Completed when an instance resets: its calls in flight never answer, their callers see an error. */
  readonly resets = new Map<number, Deferred.Deferred<void>>()
  /** The tick in flight, if any: the runtime never runs two alarm handlers at once. */
  tick: object | undefined
  scopes = 0

  constructor(readonly scenario: Scenario, readonly s: fc.Scheduler) {
    this.gate = gateOf(s)
    this.world = makeWorld({
      containers: scheduledContainers(this.gate, this.hangs),
      database: emptyDatabase(),
      ...(scenario.gateStorage ? { storageCalls: (effect) => Effect.zipRight(this.gate("storage"), effect) } : {})
    })
    this.ledger = new Ledger(scenario.config)
  }

  get config() {
    return this.scenario.config
  }

  /** One call to the pool, as its caller sees it: an answer, a typed failure, or a reset (no answer). */
  call<A, E>(kind: CallKind, id: string | undefined, body: (e: PoolUnderTest) => Effect.Effect<A, E>, scope?: number) {
    return Effect.gen(this, function*() {
      const instance = this.world.restarts
      const label = `${yield* FiberRef.get(currentCall)} [${kind}]`
      const entry: Call = this.ledger.begin(kind, id, label, yield* now, instance, scope)
      const fiber = yield* Effect.forkDaemon(body(this.world.engine))
      const result = yield* Effect.raceFirst(
        Effect.map(Fiber.await(fiber), Option.some),
        Effect.as(Deferred.await(this.resets.get(instance)!), Option.none())
      )
      if (Option.isNone(result) || this.world.restarts !== instance) {
        this.ledger.finish(entry, "reset", yield* now)
        return { entry, exit: undefined }
      }
      const exit = result.value
      this.ledger.finish(entry, Exit.isSuccess(exit) ? "ok" : "failed", yield* now)
      if (Exit.isFailure(exit)) {
        const error = Cause.failureOption(exit.cause)
        const tag = Option.isSome(error) ? (error.value as { _tag?: string })._tag : undefined
        // A hold gives up, as PoolUnavailable, when its lease ended under it `holdAttempts` times in a row.
        const allowed = ["PoolExhausted", "ContainerStartFailed", ...(kind === "hold" ? ["PoolUnavailable"] : [])]
        must(
          tag !== undefined && allowed.includes(tag),
          () => `${label} fails only with a typed error of the contract: ${Cause.pretty(exit.cause)}`
        )
      }
      return { entry, exit }
    })
  }

  /** A scoped acquire, as `WarmPoolClient.acquire` runs one: hold, renew every `acquireTimeout / 2`, release the hold. */
  scope(id: string, holdMs: number) {
    const { config, ledger } = this
    return Effect.gen(this, function*() {
      const scope = this.scopes++
      const holder = `holder-${scope}`
      const held = yield* this.call("hold", id, (e) => scoped.open(e, id, holder, config), scope)
      if (held.exit === undefined || Exit.isFailure(held.exit)) return
      ledger.held(held.entry, held.exit.value)
      const every = holdRenewalMs(config)
      for (let left = holdMs; left > 0; left -= every) {
        yield* Effect.sleep(Duration.millis(Math.min(left, every)))
        if (left <= every) break
        const { entry, exit } = yield* this.call("renewHold", id, (e) => scoped.renew(e, id, holder, config), scope)
        if (exit === undefined || Exit.isFailure(exit)) continue
        const renewing = exit.value ? ledger.renewed(entry) : ledger.scopes.find((s) => s.scope === scope)
        must(
          exit.value || renewing === undefined || renewing.excused || entry.start >= renewing.lapsesAt,
          () => `${entry.label}: the pool refused to renew a live holder of ${id}`
        )
      }
      yield* this.call("releaseHold", id, (e) => scoped.close(e, id, holder, config), scope)
    })
  }

  /** A plain `getContainer`: the id holds what it answered. */
  get(id: string) {
    return Effect.map(this.call("get", id, (e) => e.getContainer(id, this.config)), ({ entry, exit }) => {
      if (exit !== undefined && Exit.isSuccess(exit)) this.ledger.granted(entry, exit.value)
    })
  }

  /** The alarm as the runtime fires it: deleted first, never two handlers at once. */
  readonly fireAlarm = Effect.gen(this, function*() {
    if (this.tick !== undefined || (yield* this.world.alarm.get) === null) return
    const mine = {}
    this.tick = mine
    yield* this.world.alarm.clear
    const { exit } = yield* this.call("tick", undefined, (e) => e.tick)
    if (exit !== undefined) must(Exit.isSuccess(exit), () => "the tick never fails")
    if (this.tick === mine) this.tick = undefined
  })

  /** The Durable Object resets: a new instance boots; the runtime retries an alarm handler that did not finish. */
  readonly restart = Effect.gen(this, function*() {
    const old = this.world.restarts
    yield* this.world.restart
    this.resets.set(this.world.restarts, yield* Deferred.make<void>())
    yield* Deferred.succeed(this.resets.get(old)!, undefined)
    if (this.tick !== undefined) {
      this.tick = undefined
      if ((yield* this.world.alarm.get) === null) yield* this.world.alarm.set(yield* now)
    }
  })

  pick(n: number) {
    const running = [...this.world.fake.running()].sort()
    return running.length === 0 ? undefined : running[n % running.length]
  }

  perform(action: Action): Effect.Effect<void, unknown> {
    const { config, ledger, world } = this
    return Effect.gen(this, function*() {
      switch (action._tag) {
        case "get":
          return yield* this.get(action.id)
        case "scope":
          return yield* this.scope(action.id, action.holdMs)
        case "release":
          return void (yield* this.call("release", action.id, (e) => e.release(action.id, config)))
        case "tick":
          return yield* this.fireAlarm
        case "shutdown": {
          const { entry, exit } = yield* this.call("shutdown", undefined, (e) => e.shutdown(config))
          if (exit !== undefined && Exit.isSuccess(exit)) ledger.shutDown(entry, world.fake.calls.starts)
          return
        }
        case "crash": {
          const victim = this.pick(action.pick)
          if (victim === undefined) return
          world.fake.kill(victim)
          ledger.trouble(victim)
          if (action.notify) yield* this.call("stopNotice", undefined, (e) => e.containerStopped(victim))
          return
        }
        case "hang": {
          const victim = this.pick(action.pick)
          if (victim === undefined) return
          this.hangs.calls.set(victim, action.calls)
          if (action.calls === "status" || action.calls === "all") ledger.trouble(victim)
          return
        }
        case "hangStart":
          return void this.hangs.nextStarts++
        case "restart":
          return yield* this.restart
        case "pause":
          return yield* Effect.sleep(Duration.millis(action.ms))
        case "busy": {
          // "deadline": exactly to the earliest lease deadline ahead, so a lease lapses in the middle of a call.
          const t = yield* now
          const deadlines = (yield* world.store.snapshot).leases.map((l) => l.expiresAt).filter((at) => at > t)
          const ms = action.ms !== "deadline" ? action.ms : deadlines.length === 0 ? 1 : Math.min(...deadlines) - t
          ledger.busy(t, ms)
          return yield* this.manual.advance(ms)
        }
      }
    })
  }

  actor(index: number, actions: ReadonlyArray<Action>) {
    return Effect.forEach(actions, (action, k) =>
      Effect.zipRight(this.gate("next"), this.perform(action)).pipe(
        Effect.locally(currentCall, `actor ${index}.${k} ${describeAction(action)}`)
      ), { discard: true })
  }

  /** Releases one scheduled step at a time, checking the invariants after each, and moves time when all wait. */
  drive(counter: { steps: number }) {
    return Effect.gen(this, function*() {
      const { ledger, s, world } = this
      const actors = yield* Effect.forEach(this.scenario.actors, (actions, i) => Effect.forkDaemon(this.actor(i, actions)))
      const alarms: Array<Actor> = []
      let alarmPending = false
      const done = (fibers: ReadonlyArray<Actor>) => Effect.map(Effect.forEach(fibers, Fiber.poll), (p) => p.every(Option.isSome))
      for (let steps = 0;;) {
        yield* quiesce(this.scheduler)
        const t = yield* now
        yield* checkInvariants(world, ledger, this.config, t, `step ${steps} at ${t} ms`, this.tick !== undefined)
        const actorsDone = yield* done(actors)
        const alarmAt = yield* world.alarm.get
        const alarmMayFire = !actorsDone && this.tick === undefined && alarmAt !== null && alarms.length < maxAlarms
        // A due alarm comes in like any other event: the scheduler decides when.
        if (alarmMayFire && !alarmPending && alarmAt <= t) {
          alarmPending = true
          const fire = Effect.zipRight(this.gate("the alarm fires"), Effect.sync(() => void (alarmPending = false)))
          alarms.push(yield* Effect.forkDaemon(Effect.locally(Effect.zipRight(fire, this.fireAlarm), currentCall, "alarm")))
          continue
        }
        if (s.count() > 0) {
          must(++steps < maxSteps, () => `a schedule runs away: ${maxSteps} steps`)
          counter.steps++
          yield* Effect.promise(() => s.waitOne())
          continue
        }
        if (actorsDone && (yield* done(alarms))) return
        const next = yield* this.manual.nextWake
        const wake = Math.min(next ?? Infinity, alarmMayFire && alarmAt > t ? alarmAt : Infinity)
        if (wake === Infinity) {
          const pending = ledger.calls.filter((c) => c.end === undefined && c.instance === world.restarts)
          return must(
            pending.length === 0,
            () => `every call settles: nothing is left to run, yet ${pending.map((c) => c.label).join(", ")} wait`
          )
        }
        yield* this.manual.advanceTo(wake)
      }
    })
  }

  run(counter: { steps: number }) {
    return Effect.gen(this, function*() {
      this.world.fake.behaviour.startDelay = Duration.millis(this.scenario.startDelayMs)
      yield* this.world.boot
      this.resets.set(this.world.restarts, yield* Deferred.make<void>())
      yield* this.drive(counter)
    }).pipe(
      // Whatever this world's fibers still wait on, they never touch the database again.
      Effect.ensuring(this.world.abort),
      Effect.withScheduler(this.scheduler),
      Effect.withClock(this.manual.clock),
      Effect.withRandom(Random.make(this.scenario.seed)),
      // Hung containers make the engine log warnings by design; the assertions speak for failures.
      Logger.withMinimumLogLevel(LogLevel.None)
    )
  }
}

export const runSchedule = (scenario: Scenario, s: fc.Scheduler, counter: { steps: number }) =>
  new Schedule(scenario, s).run(counter)
