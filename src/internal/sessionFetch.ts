/**
 * The request-scoped helper `fetch(sessionId, request)`: it routes one request to the session's
 * container and holds the session's lease until the response body has been fully sent or cancelled.
 *
 * Two seams, kept apart on purpose: `holdStub` resolves the stub (and takes the hold), `send` sends
 * the request. `sendHeld` joins them, with the fence's re-resolve-and-retry around both (`fenceRetry`).
 */
import type { Scope } from "effect"
import { Effect, Exit, Scope as Scopes } from "effect"
import type { ContainerFenced } from "../Errors.js"
import { ContainerRequestFailed, type WarmPoolError } from "../Errors.js"
import { reasonOf } from "./errors.js"
import { sendThroughFence } from "./fenceRetry.js"
import { holdUntilBodyDone } from "./heldResponse.js"

/** Anything a request can be sent through: a container's stub. */
export interface Fetcher {
  fetch(request: Request): Promise<Response>
}

export interface SessionFetchParts<S extends Fetcher> {
  /** Resolves the session's stub, holding its lease until the scope closes (`acquire`). */
  readonly holdStub: (sessionId: string) => Effect.Effect<S, WarmPoolError, Scope.Scope>
  /** Drops the session's sticky cache entry: its lease has ended, as a fence's `410` said. */
  readonly invalidate: (sessionId: string) => Effect.Effect<void>
  /** Runs the closing of a hold once the body is done, outside the request's fiber (kept alive by `waitUntil`). */
  readonly inBackground: (effect: Effect.Effect<void>) => void
}

/** Sends the request to the container; a stub that throws is a typed failure. */
export const send = (stub: Fetcher, request: Request): Effect.Effect<Response, ContainerRequestFailed> =>
  Effect.tryPromise({
    try: () => stub.fetch(request),
    catch: (cause) => new ContainerRequestFailed({ reason: reasonOf(cause) })
  })

export const makeSessionFetch = <S extends Fetcher>(parts: SessionFetchParts<S>) => {
  /**
   * Resolve, then send, within the hold's scope. A fence's `410` (the lease ended under the hold) resolves once
   * more, taking a new hold in the same scope, and resends a replayable request (see `fenceRetry`).
   */
  const sendHeld = (sessionId: string, request: Request) =>
    sendThroughFence({
      sessionId,
      request,
      resolve: parts.holdStub(sessionId),
      invalidate: parts.invalidate(sessionId),
      send
    })

  return (
    sessionId: string,
    request: Request
  ): Effect.Effect<Response, WarmPoolError | ContainerRequestFailed | ContainerFenced> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const scope = yield* Scopes.make()
        const exit = yield* Effect.exit(restore(Scopes.extend(sendHeld(sessionId, request), scope)))
        if (Exit.isFailure(exit)) {
          yield* Scopes.close(scope, exit)
          return yield* exit
        }
        return holdUntilBodyDone(exit.value, () => parts.inBackground(Scopes.close(scope, Exit.void)))
      })
    )
}
