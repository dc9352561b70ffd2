/**
 * Running Effects for the Promise API: a promise resolves with the value, or rejects with the
 * typed error itself (an `Error` with `_tag`), never a FiberFailure.
 */
import { Cause, Effect, Exit, Runtime } from "effect"

/** The value of an exit, or its error thrown as is. */
export const valueOrThrow = <A>(exit: Exit.Exit<A, unknown>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

export const runAsPromise = <A>(effect: Effect.Effect<A, unknown>): Promise<A> =>
  Runtime.runPromiseExit(Runtime.defaultRuntime)(effect).then(valueOrThrow)

export const runSyncOrThrow = <A>(effect: Effect.Effect<A, unknown>): A =>
  valueOrThrow(Runtime.runSyncExit(Runtime.defaultRuntime)(effect))
