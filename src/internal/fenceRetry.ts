/**
 * What a request-scoped helper does when a fence refuses its request: the stub came from a lease that
 * has ended (a stale cache entry, say). It drops the entry, resolves the session once more, and sends the
 * request again if it can be replayed; otherwise it fails with `ContainerFenced`.
 */
import { Effect } from "effect"
import { ContainerFenced } from "../Errors.js"
import { fencedReason } from "./fence.js"

/** Bodies up to this size (declared by `content-length`) are kept, so a refused request can be replayed. */
export const MAX_REPLAY_BYTES = 1024 * 1024

export interface FenceRetryOptions<S, E1, E2, R> {
  readonly sessionId: string
  readonly request: Request
  /** The session's stub: from the sticky cache or the pool. */
  readonly resolve: Effect.Effect<S, E1, R>
  /** Drops the session's sticky cache entry, so `resolve` asks the pool. */
  readonly invalidate: Effect.Effect<void>
  readonly send: (stub: S, request: Request) => Effect.Effect<Response, E2>
  readonly maxReplayBytes?: number
}

/** A request that can be sent twice: no body, or a body of a declared, bounded length (kept by a `clone`). */
const replayable = (request: Request, maxBytes: number): boolean => {
  if (request.body === null) return true
  const length = Number(request.headers.get("content-length") ?? Number.NaN)
  return Number.isSafeInteger(length) && length >= 0 && length <= maxBytes
}

/** A refusal's body is not read: free it. */
const discard = (response: Response) => void response.body?.cancel().catch(() => undefined)

/**
 * Resolves the session's stub and sends `request`. A fence's `410` invalidates the cache entry, resolves
 * once more and resends a replayable request; any response of the second attempt but another fence `410`
 * is returned as is. Responses that are not a fence's (an app's own `410` included) are returned untouched.
 */
export const sendThroughFence = <S, E1, E2, R>(
  options: FenceRetryOptions<S, E1, E2, R>
): Effect.Effect<Response, E1 | E2 | ContainerFenced, R> =>
  Effect.gen(function*() {
    const { invalidate, request, resolve, send, sessionId } = options
    const again = replayable(request, options.maxReplayBytes ?? MAX_REPLAY_BYTES) ? request.clone() : undefined
    const first = yield* send(yield* resolve, request)
    const refused = fencedReason(first)
    if (refused === undefined) return first
    discard(first)
    yield* invalidate
    if (again === undefined) return yield* new ContainerFenced({ sessionId, reason: refused, retried: false })
    const second = yield* send(yield* resolve, again)
    const refusedAgain = fencedReason(second)
    if (refusedAgain === undefined) return second
    discard(second)
    yield* invalidate
    return yield* new ContainerFenced({ sessionId, reason: refusedAgain, retried: true })
  })
