/**
 * The pool's single wake-up timer: a Durable Object alarm in production, a plain cell in
 * tests (which fire it by running a tick). It remembers whether it is armed, so the hot
 * path asks storage at most once per instance.
 */
import { Context, Effect, Layer, Option, Ref } from "effect"
import { reasonOf, StorageError } from "./errors.js"

/** Where an alarm is kept. */
export interface AlarmBackend {
  readonly get: () => Promise<number | null> | number | null
  readonly set: (at: number) => Promise<void> | void
  readonly clear: () => Promise<void> | void
}

export interface PoolAlarmService {
  /** Whether an alarm is armed; read from storage once per instance, then remembered. */
  readonly isArmed: Effect.Effect<boolean, StorageError>
  /** When the alarm fires next (epoch ms), or null; read from storage. */
  readonly get: Effect.Effect<number | null, StorageError>
  readonly set: (at: number) => Effect.Effect<void, StorageError>
  readonly clear: Effect.Effect<void, StorageError>
}

const call = <A>(operation: string, body: () => Promise<A> | A) =>
  Effect.tryPromise({
    try: async () => body(),
    catch: (cause) => new StorageError({ operation, reason: reasonOf(cause) })
  })

export const make = (backend: AlarmBackend): Effect.Effect<PoolAlarmService> =>
  Effect.map(Ref.make(Option.none<boolean>()), (armed) => {
    const get = call("read alarm", backend.get)
    return {
      get,
      isArmed: Effect.flatMap(Ref.get(armed), Option.match({
        onSome: Effect.succeed,
        onNone: () => Effect.tap(Effect.map(get, (at) => at !== null), (value) => Ref.set(armed, Option.some(value)))
      })),
      set: (at) => Effect.zipRight(call("set alarm", () => backend.set(at)), Ref.set(armed, Option.some(true))),
      clear: Effect.zipRight(call("clear alarm", backend.clear), Ref.set(armed, Option.some(false)))
    }
  })

/** An alarm kept in memory, for tests. */
export const memoryBackend = (): AlarmBackend => {
  let at: number | null = null
  return { get: () => at, set: (next) => void (at = next), clear: () => void (at = null) }
}

/** The alarm of a Durable Object's storage. */
export const storageBackend = (storage: DurableObjectStorage): AlarmBackend => ({
  get: () => storage.getAlarm(),
  set: (at) => storage.setAlarm(at),
  clear: () => storage.deleteAlarm()
})

export class PoolAlarm extends Context.Tag("cf-container-warm-pool/PoolAlarm")<PoolAlarm, PoolAlarmService>() {
  static readonly make = make
  static readonly layer = (backend: AlarmBackend): Layer.Layer<PoolAlarm> => Layer.effect(PoolAlarm, make(backend))
}
