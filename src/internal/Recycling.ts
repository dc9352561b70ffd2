/**
 * Recycling and scale-down, as one tick step. Warm containers of an older `revision`, or older than
 * `maxContainerAge`, are stopped (the refill that follows replaces them, at the governor's pace). Warm
 * containers above the warm target that have idled for `idleTimeout` are stopped, never below the target,
 * which is never below `minContainers`. Only warm containers are touched, each in one step that checks it
 * is still warm: a leased one serves its session until its lease ends, and is then stopped
 * (`policy.isCurrentBinding` keeps it out of the warm set).
 */
import { Context, Effect, Layer, Option, Ref } from "effect"
import type { WarmPoolConfig } from "../Config.js"
import { Autoscaler, demandSettings } from "./Autoscaler.js"
import { Lifecycle } from "./Lifecycle.js"
import * as policy from "./policy.js"
import { limits } from "./policy.js"
import { PoolStore } from "./PoolStore.js"

export interface RecycleReport {
  /** Warm containers stopped for an older revision or their age. */
  readonly recycled: number
  /** Warm containers stopped for idling above the target. */
  readonly scaledDown: number
}

export const make = Effect.gen(function*() {
  const store = yield* PoolStore
  const lifecycle = yield* Lifecycle
  const autoscaler = yield* Autoscaler
  // The revision this instance last noticed, so an unchanged one costs nothing per call.
  const noticed = yield* Ref.make(Option.none<string | undefined>())

  /** Stops each slot that is still warm when its turn comes; returns how many it stopped. */
  const stopWarm = (containers: ReadonlyArray<string>) =>
    Effect.map(
      Effect.forEach(containers, (container) =>
        Effect.flatMap(store.stopIfWarm(container), (taken) =>
          taken ? Effect.as(lifecycle.stop(container), 1) : Effect.succeed(0)), {
        concurrency: limits.callConcurrency
      }),
      (stopped) => stopped.reduce((sum: number, n) => sum + n, 0)
    )

  const step = (at: number, config: WarmPoolConfig): Effect.Effect<RecycleReport, unknown> =>
    Effect.gen(function*() {
      yield* store.noticeRevision(config.revision)
      const bornBy = config.maxContainerAge === undefined ? -1 : at - config.maxContainerAge
      const stale = yield* store.warmToRecycle(config.revision, bornBy, limits.tickPage)
      const recycled = yield* stopWarm(stale.map((slot) => slot.container))
      const { idleTimeoutMs } = demandSettings(config)
      if (idleTimeoutMs === undefined) return { recycled, scaledDown: 0 }
      const surplus = policy.warmSet(yield* store.counts) - (yield* autoscaler.target(config))
      if (surplus <= 0) return { recycled, scaledDown: 0 }
      const idle = yield* store.idleWarm(at - idleTimeoutMs, Math.min(surplus, limits.tickPage))
      return { recycled, scaledDown: yield* stopWarm(idle.map((slot) => slot.container)) }
    })

  /**
   * A call brought the config: on a new revision, the older warm containers are taken out of the warm set
   * at once and stopped in the background, so the assignment this call makes refills with the new revision
   * now rather than at the next tick. Nothing starts here: starts follow the alarm being armed.
   */
  const onRevision = (config: WarmPoolConfig) =>
    Effect.gen(function*() {
      const last = yield* Ref.get(noticed)
      if (Option.isSome(last) && last.value === config.revision) return
      const changed = yield* store.noticeRevision(config.revision)
      yield* Ref.set(noticed, Option.some(config.revision))
      if (!changed) return
      const stale = yield* store.warmToRecycle(config.revision, -1, limits.tickPage)
      const taken = yield* Effect.filter(stale, (slot) => store.stopIfWarm(slot.container))
      yield* lifecycle.inBackground(
        Effect.forEach(taken, (slot) => lifecycle.stop(slot.container), { concurrency: limits.callConcurrency })
      )
    })

  return { step, onRevision }
})

export class Recycling extends Context.Tag("cf-container-warm-pool/Recycling")<
  Recycling,
  Effect.Effect.Success<typeof make>
>() {
  static readonly make = make
  static readonly layer = Layer.effect(Recycling, make)
}
