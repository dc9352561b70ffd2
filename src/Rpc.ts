/**
 * How results cross Durable Object RPC. A thrown error would lose its class and
 * fields, so the pool returns failures as encoded data and the client rebuilds them.
 */
import { Cause, Effect, Either, Exit, Runtime, Schema } from "effect"
import { PoolUnavailable, WarmPoolError } from "./Errors.js"

export type RpcResult<A> =
  | { readonly ok: true; readonly value: A }
  | { readonly ok: false; readonly error: typeof WarmPoolError.Encoded }

const encodeError = Schema.encodeSync(WarmPoolError)
const decodeError = Schema.decodeUnknownEither(WarmPoolError)

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

/** Runs on the pool side: never fails; typed errors and defects become data. */
export const toRpcResult = <A, R>(effect: Effect.Effect<A, WarmPoolError, R>): Effect.Effect<RpcResult<A>, never, R> =>
  effect.pipe(
    Effect.map((value): RpcResult<A> => ({ ok: true, value })),
    Effect.catchAll((error) => Effect.succeed<RpcResult<A>>({ ok: false, error: encodeError(error) })),
    Effect.catchAllCause((cause) =>
      Effect.succeed<RpcResult<A>>({
        ok: false,
        error: encodeError(new PoolUnavailable({ reason: `the pool failed unexpectedly: ${describeCause(cause)}` }))
      })
    )
  )

/** Runs on the client side: rebuilds the typed error, or yields the value. */
export const fromRpcResult = <A>(result: unknown): Effect.Effect<A, WarmPoolError> => {
  if (typeof result !== "object" || result === null || !("ok" in result)) {
    return Effect.fail(new PoolUnavailable({ reason: "the pool returned a malformed response" }))
  }
  const envelope = result as RpcResult<A>
  if (envelope.ok) return Effect.succeed(envelope.value)
  return Either.match(decodeError(envelope.error), {
    onLeft: () => Effect.fail(new PoolUnavailable({ reason: "the pool returned an unknown error" })),
    onRight: Effect.fail
  })
}

/** A call to the pool over RPC: a thrown error (unreachable, reset) becomes `PoolUnavailable`. */
export const callPool = <A>(method: string, send: () => Promise<unknown>): Effect.Effect<A, WarmPoolError> =>
  Effect.tryPromise({
    try: send,
    catch: (cause) =>
      new PoolUnavailable({ reason: `${method} failed: ${cause instanceof Error ? cause.message : String(cause)}` })
  }).pipe(Effect.flatMap((result) => fromRpcResult<A>(result)))

/** Runs an Effect for the Promise API: it resolves, or rejects with the typed error itself, never a FiberFailure. */
export const runAsPromise = <A>(effect: Effect.Effect<A, unknown>): Promise<A> =>
  Runtime.runPromiseExit(Runtime.defaultRuntime)(effect).then(valueOrThrow)

/** The value of an exit, or its error thrown as is. */
export const valueOrThrow = <A>(exit: Exit.Exit<A, unknown>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}
