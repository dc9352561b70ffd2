/**
 * Keeping the warm set topped up: reserving warming slots against the counts, and starting
 * them with bounded parallelism, on the request path or in the background.
 */
import { Clock, Context, Effect, Either, Layer } from "effect"
import type { WarmPoolConfig } from "../Config.js"
import { Autoscaler, shaped } from "./Autoscaler.js"
import { Lifecycle } from "./Lifecycle.js"
import type { SlotCounts } from "./policy.js"
import { limits, refillNeeded } from "./policy.js"
import { PoolSettings } from "./PoolSettings.js"
import { PoolStore } from "./PoolStore.js"
import { StartGovernor } from "./StartGovernor.js"

export const make = Effect.gen(function*() {
  const store = yield* PoolStore
  const settings = yield* PoolSettings
  const lifecycle = yield* Lifecycle
  const autoscaler = yield* Autoscaler
  const governor = yield* StartGovernor
  const startPermits = yield* Effect.makeSemaphore(limits.startConcurrency)

  /**
   * Reserves as many warming slots as `howMany` decides on the counts, at once, so they count against the cap.
   * It decides on the warm target and the governor's cap (`shaped`), and reserves none while the breaker is open.
   */
  const reserve = (howMany: (counts: SlotCounts, config: WarmPoolConfig) => number) =>
    store.exclusive(Effect.gen(function*() {
      const { config } = yield* settings.get
      const plan = shaped(config, yield* autoscaler.target(config), yield* governor.cap(config))
      const count = Math.min(howMany(yield* store.counts, plan), yield* governor.allowance)
      return yield* lifecycle.reserve(count, "warming", null)
    }))

  const warmOne = (container: string) =>
    Effect.flatMap(settings.get, ({ config }) =>
      lifecycle.launch(
        container,
        Effect.flatMap(Clock.currentTimeMillis, (now) => store.promote(container, now + config.healthCheckInterval))
      )).pipe(startPermits.withPermits(1))

  /** Starts reserved slots; each start succeeds or fails on its own. */
  const start = (names: ReadonlyArray<string>) =>
    Effect.forEach(names, (name) => Effect.either(warmOne(name)), { concurrency: "unbounded" })

  const refill = Effect.flatMap(reserve(refillNeeded), start).pipe(
    Effect.map((results) => results.filter(Either.isRight).length)
  )

  /**
   * Reserves the refills now, in the caller's step, and starts them in the background. Nothing may
   * interrupt between the two: a reserved slot that is never launched would stay in flight for good.
   */
  const refillInBackground = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      reserve(refillNeeded),
      (names) => names.length === 0 ? Effect.void : lifecycle.inBackground(restore(start(names)))
    )
  )

  return { reserve, start, refill, refillInBackground }
})

export class WarmSet extends Context.Tag("cf-container-warm-pool/WarmSet")<
  WarmSet,
  Effect.Effect.Success<typeof make>
>() {
  static readonly make = make
  static readonly layer = Layer.effect(WarmSet, make)
}
