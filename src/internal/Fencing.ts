/**
 * The pool's side of the fence (see `fence.ts`): the token each grant carries, and the revocation that
 * reaches a `PooledContainer` before a released lease's container rejoins the warm set.
 */
import { Context, Effect, Layer } from "effect"
import type { Grant } from "../Protocol.js"
import type { Lease } from "./policy.js"
import { PoolSettings } from "./PoolSettings.js"
import { PoolStore } from "./PoolStore.js"

export const make = Effect.gen(function*() {
  const store = yield* PoolStore
  const settings = yield* PoolSettings

  /** The grant of the session's lease on `container`, with the lease's token (one indexed row read). */
  const grant = (sessionId: string, container: string, cacheForMs: number) =>
    Effect.map(store.lease(sessionId), (lease): Grant =>
      lease?.container === container && lease.fence !== undefined
        ? { container, cacheForMs, fence: lease.fence }
        : { container, cacheForMs })

  /** Tells the container the lease ended, at the next epoch (the one `returnToWarm` records); false if it did not answer. */
  const revoke = (lease: Lease) =>
    Effect.flatMap(settings.containersFor(lease.binding), (containers) =>
      containers.revoke === undefined
        ? Effect.succeed(true)
        : containers.revoke(lease.container, (lease.fence ?? 0) + 1, "released").pipe(
          Effect.as(true),
          Effect.catchAll((error) =>
            Effect.as(Effect.logWarning(`warm pool: ${error.message}; stopping the container instead`), false)
          )
        ))

  /**
   * Returns a released lease's container to the warm set once its fence has closed on the lease. The revocation
   * is a bounded call made outside the store's lock: the slot stays acquired meanwhile, so no one else can take
   * it. "stopped": it did not answer, and its slot is now stopping (the caller stops it). "gone": the lease ended
   * meanwhile by other hands (another release, an expiry, a shutdown), which decide the container's fate.
   */
  const returnToWarm = (lease: Lease, checkDueAt: number) =>
    Effect.flatMap(revoke(lease), (revoked) =>
      store.exclusive(Effect.gen(function*() {
        const now = yield* store.lease(lease.sessionId)
        if (now?.container !== lease.container || now.fence !== lease.fence) return "gone" as const
        if (revoked && (yield* store.returnToWarm(lease.container, checkDueAt))) return "warm" as const
        yield* store.markStopping(lease.container)
        return "stopped" as const
      })))

  return { grant, returnToWarm }
})

export type FencingService = Effect.Effect.Success<typeof make>

export class Fencing extends Context.Tag("cf-container-warm-pool/Fencing")<Fencing, FencingService>() {
  static readonly make = make
  static readonly layer = Layer.effect(Fencing, make)
}
