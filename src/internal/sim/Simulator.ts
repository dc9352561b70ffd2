/**
 * The simulator: replays a request trace through the real engine (every service of `layers.pool`, the
 * SQLite store on sql.js) on a virtual clock, against simulated containers, and reports what the pool
 * would have cost and delivered. The alarm fires as a Durable Object's would: when due, never while the
 * previous tick runs.
 */
import { Context, Effect, Layer, Random } from "effect"
import type { WarmPoolConfig } from "../../Config.js"
import { ContainerDriver } from "../ContainerDriver.js"
import type { EngineService } from "../Engine.js"
import { forCaller } from "../Engine.js"
import * as layers from "../layers.js"
import { Maintenance } from "../Maintenance.js"
import { emptyCounts, isLeaseLive, settleBounds } from "../policy.js"
import { memoryBackend, PoolAlarm } from "../PoolAlarm.js"
import { PoolStore } from "../PoolStore.js"
import { readLease, sqlOf, toLease } from "../SqlitePoolStore.js"
import { logNormal, makeSimContainers, seededRandom } from "./SimContainers.js"
import { makeNodeSqlStorage } from "./SqlJsStorage.js"
import type { TraceRow } from "./Trace.js"
import { makeVirtualClock } from "./VirtualClock.js"

export interface SimulationOptions {
  readonly trace: ReadonlyArray<TraceRow>
  readonly config: WarmPoolConfig
  /** Container start time: log-normal with this median and 95th percentile (ms). */
  readonly startMs: { readonly p50: number; readonly p95: number }
  readonly seed: number
}

export interface SimulationResult {
  /** `get` rows. */
  readonly requests: number
  /** Gets that needed an assignment (no live lease). */
  readonly newSessions: number
  readonly warmHits: number
  readonly coldStarts: number
  readonly exhausted: number
  /** New sessions refused otherwise (`ContainerStartFailed`, say). */
  readonly failed: number
  readonly hitRate: number
  readonly p95WaitMs: number
  /** Running containers, integrated over the trace's time. */
  readonly containerSeconds: number
  /** Warm, unleased containers, integrated over the trace's time. */
  readonly idleContainerSeconds: number
  /** Container starts begun. */
  readonly starts: number
}

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits

/** Runs the whole trace; deterministic for a given seed. */
export const simulate = (options: SimulationOptions): Effect.Effect<SimulationResult, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const storage = yield* Effect.acquireRelease(Effect.promise(makeNodeSqlStorage), (s) => Effect.sync(s.close))
    const clock = makeVirtualClock(0)
    const random = seededRandom(options.seed)
    const sim = makeSimContainers(logNormal(random, options.startMs.p50, options.startMs.p95))
    const alarm = memoryBackend()
    const program = Effect.gen(function*() {
      const base = Layer.mergeAll(PoolStore.layer(storage), Layer.succeed(ContainerDriver, sim.driver), PoolAlarm.layer(alarm))
      const context = yield* Layer.build(layers.pool.pipe(Layer.provideMerge(base)))
      const store = Context.get(context, PoolStore)
      const sql = sqlOf(storage)
      const call = <A, E>(body: (engine: EngineService, grantMs: number) => Effect.Effect<A, E>) =>
        Effect.provide(forCaller(options.config, body), context)

      const end = options.trace.at(-1)?.t ?? 0
      const totals = { requests: 0, newSessions: 0, warmHits: 0, coldStarts: 0, exhausted: 0, failed: 0 }
      const waits: Array<number> = []
      let containerMs = 0
      let idleMs = 0
      let pending = 0
      let ticking = false

      // Between two moments nothing changes: what runs at the start of an interval runs throughout it. The
      // warm count is read again only after a write: most intervals end with nothing stored having changed.
      let warm = { version: -1, count: 0 }
      const warmNow = Effect.suspend(() =>
        warm.version === storage.version()
          ? Effect.succeed(warm.count)
          : Effect.map(Effect.orElseSucceed(store.counts, () => emptyCounts), (counts) => {
            warm = { version: storage.version(), count: counts.warm }
            return counts.warm
          })
      )
      const crossing = (from: number, to: number) =>
        Effect.map(warmNow, (warmCount) => {
          const span = Math.min(to, end) - from
          if (span <= 0) return
          containerMs += sim.running() * span
          idleMs += warmCount * span
        })

      const tick = Effect.ensuring(
        Effect.provide(Effect.flatMap(Maintenance, (m) => m.tick), context),
        Effect.sync(() => void (ticking = false))
      )

      /** Moves time to `t`, firing the alarm whenever it falls due and no tick runs. */
      const runUntil = (t: number) =>
        Effect.gen(function*() {
          for (;;) {
            const alarmAt = ticking ? null : (alarm.get() as number | null)
            const wake = clock.nextWake() ?? Number.POSITIVE_INFINITY
            const due = alarmAt === null ? Number.POSITIVE_INFINITY : Math.max(alarmAt, clock.now())
            if (Math.min(due, wake) > t) break
            if (due <= wake) {
              yield* clock.advanceTo(due, crossing)
              ticking = true
              yield* Effect.forkDaemon(tick)
              yield* clock.settle
            } else {
              yield* clock.advanceTo(wake, crossing)
            }
          }
          yield* clock.advanceTo(t, crossing)
        })

      const get = (session: string) =>
        Effect.gen(function*() {
          // Read straight from the store's SQL: no transaction is needed to read, nor an Effect per request.
          const row = readLease(sql, session)
          const lease = row === undefined ? undefined : toLease(row)
          const began = clock.now()
          const fresh = lease === undefined || !isLeaseLive(lease, began)
          const outcome = yield* Effect.either(call((engine, grantMs) => engine.getContainer(session, grantMs)))
          if (!fresh) return
          totals.newSessions++
          if (outcome._tag === "Left") {
            if ((outcome.left as { _tag?: string })._tag === "PoolExhausted") totals.exhausted++
            else totals.failed++
            return
          }
          const wait = clock.now() - began
          waits.push(wait)
          if (wait === 0) totals.warmHits++
          else totals.coldStarts++
        })

      const send = (request: Effect.Effect<unknown, unknown>) =>
        Effect.zipRight(
          Effect.sync(() => void pending++),
          Effect.forkDaemon(Effect.ensuring(Effect.ignore(request), Effect.sync(() => void pending--)))
        )

      for (const row of options.trace) {
        yield* runUntil(row.t)
        if (row.action === "get") {
          totals.requests++
          yield* send(get(row.session))
        } else {
          yield* send(call((engine) => engine.release(row.session)))
        }
        yield* clock.settle
      }
      // Calls still waiting on a start finish; their cost past the trace's end is not counted.
      const limit = end + settleBounds.tickMs + 10 * options.config.startupTimeout
      for (let t = end; pending > 0 && t < limit; t += 1_000) yield* runUntil(t + 1_000)

      const newSessions = totals.newSessions
      return {
        ...totals,
        hitRate: newSessions === 0 ? 0 : round(totals.warmHits / newSessions, 4),
        p95WaitMs: Math.round(percentile(waits, 0.95)),
        containerSeconds: round(containerMs / 1000, 1),
        idleContainerSeconds: round(idleMs / 1000, 1),
        starts: sim.starts()
      } satisfies SimulationResult
    })
    return yield* program.pipe(
      Effect.withClock(clock.clock),
      Effect.withRandom(Random.make(options.seed)),
      Effect.withScheduler(clock.scheduler)
    )
  }))
