/**
 * Runs one interleaved schedule: the scenario's actors run at once against the real engine (over the
 * restartable in-memory world, on a manual clock), and `fc.scheduler()` releases one waiting step at a
 * time: an actor's next call, a container call or its answer, a storage call. After every released
 * step the invariants are checked. Time moves only when every fiber waits on it, so a call's bounds
 * elapse (a hung container is given up on) without real waiting.
 */
import type { FastCheck as fc } from "effect"
import { Cause, Clock, Deferred, Duration, Effect, Exit, Fiber, FiberRef, Logger, LogLevel, Option, Random } from "effect"
import type { Containers } from "../../../src/internal/ContainerDriver.js"
import { migrate } from "../../../src/internal/SqlitePoolStore.js"
import { makeManualClock } from "../ManualClock.js"
import { CountingScheduler } from "../PoolModel.js"
import type { PoolUnderTest } from "../PoolUnderTest.js"
import { type Gate, makeWorld } from "../RestartableWorld.js"
import { makeSqlJsStorageSync, type SqlJsStorage } from "../SqlJsStorage.js"
import { checkInvariants, must } from "./Invariants.js"
import { type CallKind, Ledger } from "./Ledger.js"
import type { Action, HungCalls, Scenario } from "./Scenario.js"

/** Scheduled steps one schedule may take before it counts as running away. */
const maxSteps = 5_000
/** Alarms the runtime fires by itself in one schedule (actors may fire more). */
const maxAlarms = 8

/** Who is waiting at a gate: shown in the scheduler's report of a failing schedule. */
const currentCall = FiberRef.unsafeMake("pool")

const describe = (action: Action) => {
  const { _tag, ...args } = action
  const shown = Object.values(args).map((v) => JSON.stringify(v)).join(", ")
  return `${_tag}(${shown})`
}

interface Hangs {
  readonly calls: Map<string, HungCalls>
  nextStarts: number
}

/** Every container call waits at a gate before it is sent and before its answer is seen (a start, only the latter). */
const scheduledContainers = (gate: (label: string) => Effect.Effect<void>, hangs: Hangs) => (c: Containers): Containers => {
  const hung = (container: string, op: HungCalls) => {
    const calls = hangs.calls.get(container)
    return calls === "all" || calls === op
  }
  const around = <A, E>(op: HungCalls, container: string, call: Effect.Effect<A, E>) =>
    gate(`${op} ${container}`).pipe(
      Effect.zipRight(Effect.suspend(() => hung(container, op) ? Effect.never : call)),
      Effect.zipLeft(gate(`${op} ${container} answered`))
    )
  return {
    start: (container, ports) =>
      Effect.suspend(() => {
        if (hangs.nextStarts > 0) {
          hangs.nextStarts--
          return Effect.never
        }
        return Effect.zipLeft(c.start(container, ports), gate(`start ${container} answered`))
      }),
    status: (container) => around("status", container, c.status(container)),
    keepAlive: (container) => around("keepAlive", container, c.keepAlive(container)),
    destroy: (container) => around("destroy", container, c.destroy(container)),
    newName: c.newName
  }
}

/** One database for every schedule, emptied before each: creating one costs more than a whole schedule. */
let database: SqlJsStorage | undefined
const emptyDatabase = () => {
  if (database === undefined) {
    database = makeSqlJsStorageSync()
    migrate(database)
  }
  database.transactionSync(() => {
    database!.sql.exec("DELETE FROM wp_slots")
    database!.sql.exec("DELETE FROM wp_pool")
    database!.sql.exec("INSERT INTO wp_pool (id) VALUES (1)")
  })
  return database
}

const quiesce = (scheduler: CountingScheduler) =>
  Effect.gen(function*() {
    for (let idle = 0; idle < 2;) {
      yield* Effect.yieldNow()
      idle = scheduler.queued === 0 ? idle + 1 : 0
    }
  })

export const runSchedule = (scenario: Scenario, s: fc.Scheduler, counter: { steps: number }) => {
  const manual = makeManualClock()
  const scheduler = new CountingScheduler()
  const { config } = scenario
  const gate = (label: string) =>
    Effect.flatMap(FiberRef.get(currentCall), (call) => Effect.promise(() => s.schedule(Promise.resolve(), `${call}: ${label}`)))
  const hangs: Hangs = { calls: new Map(), nextStarts: 0 }
  const storageGate: Gate = (effect) => Effect.zipRight(gate("storage"), effect)
  const world = makeWorld({
    containers: scheduledContainers(gate, hangs),
    database: emptyDatabase(),
    ...(scenario.gateStorage ? { storageCalls: storageGate } : {})
  })
  const ledger = new Ledger(config)
  const now = Clock.currentTimeMillis
  // Completed when an instance resets: its calls in flight never answer, their callers see an error.
  const resets = new Map<number, Deferred.Deferred<void>>()
  let tick: object | undefined
  let scopes = 0

  const call = <A, E>(kind: CallKind, id: string | undefined, body: (e: PoolUnderTest) => Effect.Effect<A, E>, closing?: number) =>
    Effect.gen(function*() {
      const instance = world.restarts
      const label = `${yield* FiberRef.get(currentCall)} [${kind}]`
      const entry = ledger.begin(kind, id, label, yield* now, instance, closing)
      const fiber = yield* Effect.forkDaemon(body(world.engine))
      const result = yield* Effect.raceFirst(
        Effect.map(Fiber.await(fiber), Option.some),
        Effect.as(Deferred.await(resets.get(instance)!), Option.none())
      )
      if (Option.isNone(result) || world.restarts !== instance) {
        ledger.finish(entry, "reset", yield* now)
        return { entry, exit: undefined }
      }
      const exit = result.value
      ledger.finish(entry, Exit.isSuccess(exit) ? "ok" : "failed", yield* now)
      if (Exit.isFailure(exit)) {
        const error = Cause.failureOption(exit.cause)
        const tag = Option.isSome(error) ? (error.value as { _tag?: string })._tag : undefined
        must(
          tag === "PoolExhausted" || tag === "ContainerStartFailed",
          () => `${label} fails only with a typed error of the contract: ${Cause.pretty(exit.cause)}`
        )
      }
      return { entry, exit }
    })

  const get = (id: string, scope?: number) =>
    Effect.map(call("get", id, (e) => e.getContainer(id, config)), ({ entry, exit }) =>
      exit !== undefined && Exit.isSuccess(exit) ? (ledger.granted(entry, exit.value, scope), true) : false)

  /** The alarm as the runtime fires it: deleted first, never two handlers at once. */
  const fireAlarm = Effect.gen(function*() {
    if (tick !== undefined || (yield* world.alarm.get) === null) return
    const mine = {}
    tick = mine
    yield* world.alarm.clear
    const { exit } = yield* call("tick", undefined, (e) => e.tick)
    if (exit !== undefined) must(Exit.isSuccess(exit), () => "the tick never fails")
    if (tick === mine) tick = undefined
  })

  const pick = (n: number) => {
    const running = [...world.fake.running()].sort()
    return running.length === 0 ? undefined : running[n % running.length]
  }

  const perform = (action: Action): Effect.Effect<void, unknown> =>
    Effect.gen(function*() {
      switch (action._tag) {
        case "get":
          yield* get(action.id)
          return
        case "scope": {
          const scope = scopes++
          if (!(yield* get(action.id, scope))) return
          yield* Effect.sleep(Duration.millis(action.holdMs))
          yield* call("release", action.id, (e) => e.release(action.id, config), scope)
          return
        }
        case "release":
          yield* call("release", action.id, (e) => e.release(action.id, config))
          return
        case "tick":
          return yield* fireAlarm
        case "shutdown": {
          const { entry, exit } = yield* call("shutdown", undefined, (e) => e.shutdown(config))
          if (exit !== undefined && Exit.isSuccess(exit)) ledger.shutDown(entry, world.fake.calls.starts)
          return
        }
        case "crash": {
          const victim = pick(action.pick)
          if (victim === undefined) return
          world.fake.kill(victim)
          ledger.trouble(victim)
          if (action.notify) yield* call("stopNotice", undefined, (e) => e.containerStopped(victim))
          return
        }
        case "hang": {
          const victim = pick(action.pick)
          if (victim === undefined) return
          hangs.calls.set(victim, action.calls)
          if (action.calls === "status" || action.calls === "all") ledger.trouble(victim)
          return
        }
        case "hangStart":
          hangs.nextStarts++
          return
        case "restart": {
          const old = world.restarts
          yield* world.restart
          resets.set(world.restarts, yield* Deferred.make<void>())
          yield* Deferred.succeed(resets.get(old)!, undefined)
          // The runtime retries an alarm handler that did not complete.
          if (tick !== undefined) {
            tick = undefined
            if ((yield* world.alarm.get) === null) yield* world.alarm.set(yield* now)
          }
          return
        }
        case "pause":
          return yield* Effect.sleep(Duration.millis(action.ms))
        case "busy": {
          // "deadline": exactly to the earliest lease deadline ahead, so a lease lapses in the middle of a call.
          const t = yield* now
          const deadlines = (yield* world.store.snapshot).leases.map((l) => l.expiresAt).filter((at) => at > t)
          const ms = action.ms !== "deadline" ? action.ms : deadlines.length === 0 ? 1 : Math.min(...deadlines) - t
          ledger.busy(t, ms)
          return yield* manual.advance(ms)
        }
      }
    })

  const actor = (index: number, actions: ReadonlyArray<Action>) =>
    Effect.forEach(actions, (action, k) =>
      Effect.zipRight(gate("next"), perform(action)).pipe(
        Effect.locally(currentCall, `actor ${index}.${k} ${describe(action)}`)
      ), { discard: true })

  return Effect.gen(function*() {
    world.fake.behaviour.startDelay = Duration.millis(scenario.startDelayMs)
    yield* world.boot
    resets.set(world.restarts, yield* Deferred.make<void>())
    const actors = yield* Effect.forEach(scenario.actors, (actions, i) => Effect.forkDaemon(actor(i, actions)))
    let alarms: Array<Fiber.RuntimeFiber<void, unknown>> = []
    let alarmPending = false
    let steps = 0
    const done = (fibers: ReadonlyArray<Fiber.RuntimeFiber<void, unknown>>) =>
      Effect.map(Effect.forEach(fibers, Fiber.poll), (polls) => polls.every(Option.isSome))
    for (;;) {
      yield* quiesce(scheduler)
      const t = yield* now
      yield* checkInvariants(world, ledger, config, t, `step ${steps} at ${t} ms`, tick !== undefined)
      const actorsDone = yield* done(actors)
      // A due alarm comes in like any other event: the scheduler decides when.
      const alarmAt = yield* world.alarm.get
      if (!actorsDone && !alarmPending && tick === undefined && alarmAt !== null && alarmAt <= t && alarms.length < maxAlarms) {
        alarmPending = true
        alarms = [...alarms, yield* Effect.forkDaemon(Effect.zipRight(
          Effect.zipRight(gate("the alarm fires"), Effect.sync(() => void (alarmPending = false))),
          fireAlarm
        ).pipe(Effect.locally(currentCall, "alarm")))]
        continue
      }
      if (s.count() > 0) {
        must(++steps < maxSteps, () => `a schedule runs away: ${maxSteps} steps`)
        counter.steps++
        yield* Effect.promise(() => s.waitOne())
        continue
      }
      if (actorsDone && (yield* done(alarms))) break
      const next = yield* manual.nextWake
      const alarmWake = alarmAt !== null && alarmAt > t && !actorsDone && alarms.length < maxAlarms && tick === undefined
        ? alarmAt
        : undefined
      const wake = next === undefined ? alarmWake : Math.min(next, alarmWake ?? Infinity)
      if (wake === undefined) {
        const pending = ledger.calls.filter((c) => c.end === undefined && c.instance === world.restarts)
        must(
          pending.length === 0,
          () => `every call settles: nothing is left to run, yet ${pending.map((c) => c.label).join(", ")} wait`
        )
        break
      }
      yield* manual.advanceTo(wake)
    }
  }).pipe(
    // Whatever this world's fibers still wait on, they never touch the database again.
    Effect.ensuring(world.abort),
    Effect.withScheduler(scheduler),
    Effect.withClock(manual.clock),
    Effect.withRandom(Random.make(scenario.seed)),
    // Hung containers make the engine log warnings by design; the assertions speak for failures.
    Logger.withMinimumLogLevel(LogLevel.None)
  )
}
