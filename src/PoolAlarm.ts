/**
 * The pool's single wake-up timer: a Durable Object alarm in production, a
 * plain cell in tests (which fire it by calling the engine's `tick`).
 */
import { Context, Effect, Layer } from "effect"

export interface PoolAlarmService {
  /** When the alarm fires next (epoch ms), or null when none is armed. */
  readonly get: Effect.Effect<number | null>
  readonly set: (at: number) => Effect.Effect<void>
  readonly clear: Effect.Effect<void>
}

/** An alarm kept in memory. */
export const makeMemoryAlarm = (): PoolAlarmService => {
  let at: number | null = null
  return {
    get: Effect.sync(() => at),
    set: (next) => Effect.sync(() => void (at = next)),
    clear: Effect.sync(() => void (at = null))
  }
}

/** The alarm of a Durable Object's storage. */
export const makeStorageAlarm = (storage: DurableObjectStorage): PoolAlarmService => ({
  get: Effect.promise(() => storage.getAlarm()),
  set: (at) => Effect.promise(() => storage.setAlarm(at)),
  clear: Effect.promise(() => storage.deleteAlarm())
})

export class PoolAlarm extends Context.Tag("cf-container-warm-pool/PoolAlarm")<PoolAlarm, PoolAlarmService>() {
  static readonly memory: Layer.Layer<PoolAlarm> = Layer.sync(PoolAlarm, makeMemoryAlarm)
  static readonly layer = (storage: DurableObjectStorage): Layer.Layer<PoolAlarm> =>
    Layer.sync(PoolAlarm, () => makeStorageAlarm(storage))
}
