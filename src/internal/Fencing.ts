/**
 * The pool's side of the fence (see `fence.ts`): the token each grant carries, and the end of a released
 * lease: decided and written in one locked step, then the revocation that reaches a `PooledContainer`
 * before its container rejoins the warm set.
 */
import { Clock, Context, Effect, Layer } from "effect"
import type { Grant } from "../Protocol.js"
import { Lifecycle } from "./Lifecycle.js"
import type { Lease, ReleaseOutcome } from "./policy.js"
import { PoolSettings } from "./PoolSettings.js"
import { PoolStore } from "./PoolStore.js"

/** How a release decided, under the store's lock, to end a lease: its container stops or returns to the warm set. */
export interface LeaseEnd {
  readonly lease: Lease
  readonly outcome: ReleaseOutcome
}

/** Where an ended lease's container went: back to the warm set, or stopped. */
export type LeaseFate = ReleaseOutcome

/** A lease ended for its container's return to the warm set: the slot is `warming`, at `epoch`. */
interface Returning {
  readonly container: string
  readonly binding: string | undefined
  readonly epoch: number
}

export const make = Effect.gen(function*() {
  const store = yield* PoolStore
  const settings = yield* PoolSettings
  const lifecycle = yield* Lifecycle

  /** The grant of the session's lease on `container`, with the lease's token (one indexed row read). */
  const grant = (sessionId: string, container: string, cacheForMs: number) =>
    Effect.map(store.lease(sessionId), (lease): Grant =>
      lease?.container === container && lease.fence !== undefined
        ? { container, cacheForMs, fence: lease.fence }
        : { container, cacheForMs })

  /** Tells the container every lease before `epoch` ended; false if it did not answer. */
  const revoke = ({ binding, container, epoch }: Returning) =>
    Effect.flatMap(settings.containersFor(binding), (containers) =>
      containers.revoke === undefined
        ? Effect.succeed(true)
        : containers.revoke(container, epoch, "released").pipe(
          Effect.as(true),
          Effect.catchAll((error) =>
            Effect.as(Effect.logWarning(`warm pool: ${error.message}; stopping the container instead`), false)
          )
        ))

  /**
   * Under the lock: the lease ends now, whatever follows. A stop marks its slot stopping; a return sends the
   * slot back through `warming` with its container held in flight (entered first, so no tick sees the slot
   * unheld while this instance works on it).
   */
  const endNow = ({ lease, outcome }: LeaseEnd) =>
    outcome === "stopped"
      ? Effect.as(store.markStopping(lease.container), undefined)
      : Effect.gen(function*() {
        const { binding, container } = lease
        yield* lifecycle.beginFlight(container)
        const epoch = yield* Effect.tapError(store.recycle(container), () => lifecycle.endFlight(container))
        if (epoch !== undefined) return { container, binding, epoch } satisfies Returning
        yield* lifecycle.endFlight(container)
        return undefined
      })

  /**
   * Outside the lock: the container revokes the ended lease (a bounded call), then rejoins the warm set, or is
   * stopped if it did not answer. "stopped" also when something else stopped it meanwhile (a shutdown).
   */
  const rejoin = (returning: Returning) =>
    Effect.gen(function*() {
      const revoked = yield* revoke(returning)
      const { config } = yield* settings.get
      const checkDueAt = (yield* Clock.currentTimeMillis) + config.healthCheckInterval
      if (revoked && (yield* store.rejoinWarm(returning.container, returning.epoch, checkDueAt))) return "warm" as const
      // Unless something else stopped it meanwhile (a shutdown): then that stop is under way.
      if (yield* store.stopReturning(returning.container, returning.epoch)) {
        yield* lifecycle.stop(returning.container, "released")
      }
      return "stopped" as const
    })

  /**
   * Ends a lease as `decide` (run under the store's lock) says, and settles its container. The lease ends in
   * the locked step that decided it: no renewal, lookup or hold finds it after that, so a plain `getContainer`
   * arriving meanwhile gets a fresh assignment, never the container on its way out. A returning container
   * rejoins the warm set only once it revoked the lease. Answers `decide`'s value and the container's fate.
   */
  const endLease = <A extends { readonly end?: LeaseEnd | undefined }, E>(decide: Effect.Effect<A, E>) =>
    Effect.acquireUseRelease(
      store.exclusive(Effect.flatMap(decide, (decided) =>
        decided.end === undefined
          ? Effect.succeed({ decided, returning: undefined })
          : Effect.map(endNow(decided.end), (returning) => ({ decided, returning })))),
      ({ decided, returning }) => {
        const end = decided.end
        if (end === undefined) return Effect.succeed({ decided, fate: undefined as LeaseFate | undefined })
        const fate = returning !== undefined
          ? rejoin(returning)
          : end.outcome === "stopped"
          ? Effect.as(lifecycle.stop(end.lease.container, "released"), "stopped" as const)
          : Effect.succeed("stopped" as const) // the slot was no longer acquired: already ended by other hands
        return Effect.map(fate, (fate): { decided: A; fate: LeaseFate | undefined } => ({ decided, fate }))
      },
      ({ returning }) => returning === undefined ? Effect.void : lifecycle.endFlight(returning.container)
    )

  return { grant, endLease }
})

export type FencingService = Effect.Effect.Success<typeof make>

export class Fencing extends Context.Tag("cf-container-warm-pool/Fencing")<Fencing, FencingService>() {
  static readonly make = make
  static readonly layer = Layer.effect(Fencing, make)
}
