/**
 * Coalesces concurrent work by key: while one effect runs for a key, later callers with the
 * same key wait for its result instead of starting another, and learn that they joined.
 */
import { Deferred, Effect, Exit, FiberId } from "effect"

export interface Flight<A> {
  readonly value: A
  /** True when this caller waited for another caller's run. */
  readonly joined: boolean
}

export interface SingleFlight<K> {
  readonly run: <A, E, R>(key: K, effect: Effect.Effect<A, E, R>) => Effect.Effect<Flight<A>, E, R>
  /** Keys with work in flight. */
  readonly size: () => number
}

export const make = <K>(): SingleFlight<K> => {
  const inFlight = new Map<K, Deferred.Deferred<any, any>>()
  return {
    size: () => inFlight.size,
    run: <A, E, R>(key: K, effect: Effect.Effect<A, E, R>) =>
      Effect.suspend((): Effect.Effect<Flight<A>, E, R> => {
        const running = inFlight.get(key) as Deferred.Deferred<A, E> | undefined
        if (running !== undefined) return Effect.map(Deferred.await(running), (value) => ({ value, joined: true }))
        const deferred = Deferred.unsafeMake<A, E>(FiberId.none)
        inFlight.set(key, deferred)
        return effect.pipe(
          Effect.onExit((exit) =>
            Effect.suspend(() => {
              inFlight.delete(key)
              return Exit.isInterrupted(exit) ? Deferred.interrupt(deferred) : Deferred.done(deferred, exit)
            })
          ),
          Effect.map((value) => ({ value, joined: false }))
        )
      })
  }
}
