/**
 * Coalesces concurrent work by key: while one effect runs for a key, later
 * callers with the same key wait for its result instead of starting another.
 */
import { Deferred, Effect, FiberId } from "effect"

export interface SingleFlight<K> {
  readonly run: <A, E, R>(key: K, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Keys with work in flight. */
  readonly size: () => number
}

export const make = <K>(): SingleFlight<K> => {
  const inFlight = new Map<K, Deferred.Deferred<any, any>>()
  return {
    size: () => inFlight.size,
    run: <A, E, R>(key: K, effect: Effect.Effect<A, E, R>) =>
      Effect.suspend(() => {
        const running = inFlight.get(key) as Deferred.Deferred<A, E> | undefined
        if (running !== undefined) return Deferred.await(running)
        const deferred = Deferred.unsafeMake<A, E>(FiberId.none)
        inFlight.set(key, deferred)
        return effect.pipe(
          Effect.exit,
          Effect.tap((exit) => {
            inFlight.delete(key)
            return Deferred.done(deferred, exit)
          }),
          Effect.flatten,
          Effect.onInterrupt(() =>
            Effect.suspend(() => {
              inFlight.delete(key)
              return Deferred.interrupt(deferred)
            })
          )
        )
      })
  }
}
