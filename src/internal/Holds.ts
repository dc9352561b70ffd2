/**
 * Scoped holds on leases: `hold` gives a session's container to one scoped use and registers its
 * holder; `releaseHold` removes it, and the last live holder out ends the lease. Holders live in the
 * pool's store, so holds taken in different isolates count together. Each decision runs under
 * `PoolStore.exclusive`, as an explicit release does, so no hold is registered between a last holder's
 * count and the end of its lease.
 */
import { Clock, Context, Effect, Layer } from "effect"
import type { WarmPoolConfig } from "../Config.js"
import { PoolUnavailable } from "../Errors.js"
import type { HoldReleased } from "../Protocol.js"
import type { AssignmentError } from "./Assignment.js"
import { Assignment } from "./Assignment.js"
import type { StorageError } from "./errors.js"
import type { LeaseEnd } from "./Fencing.js"
import { Fencing } from "./Fencing.js"
import { Autoscaler, shaped } from "./Autoscaler.js"
import { holdAttempts, holderDeadline, holdLeave } from "./holdPolicy.js"
import { isCurrentBinding, releaseOutcome } from "./policy.js"
import { PoolSettings } from "./PoolSettings.js"
import { PoolStore } from "./PoolStore.js"

/** What a holder's leaving decided, under the store's lock. */
interface Leaving {
  readonly left: "kept" | "not-held" | "ended"
  readonly holdersLeft: number
  readonly end?: LeaseEnd
}

export const make = Effect.gen(function*() {
  const store = yield* PoolStore
  const settings = yield* PoolSettings
  const assignment = yield* Assignment
  const fencing = yield* Fencing
  const autoscaler = yield* Autoscaler
  const now = Clock.currentTimeMillis

  /**
   * The session's container, with `holder` registered on its lease. The use is not plain: it leaves
   * the lease's `sliding` mark alone and takes no cache grant (a hold's stub is never cached).
   */
  const hold = (sessionId: string, holder: string): Effect.Effect<string, AssignmentError> =>
    Effect.gen(function*() {
      for (let attempt = 0; attempt < holdAttempts; attempt++) {
        const container = yield* assignment.getContainer(sessionId, 0, false)
        const { config } = yield* settings.get
        const deadline = holderDeadline(yield* now, config)
        // The lease may have ended since it was read (released, expired, dropped): assign again.
        if (yield* store.exclusive(store.addHolder(sessionId, container, holder, deadline))) return container
      }
      return yield* new PoolUnavailable({
        reason: `the lease of this session ended ${holdAttempts} times while a hold was being taken`
      })
    })

  /** Under the lock: removes `holder` and decides whether its leaving ends the lease, and how. */
  const leave = (sessionId: string, holder: string, config: WarmPoolConfig): Effect.Effect<Leaving, StorageError> =>
    Effect.gen(function*() {
      const at = yield* now
      const removed = yield* store.removeHolder(sessionId, holder, at)
      if (removed === undefined) return { left: "not-held", holdersLeft: 0 }
      const { lease, liveHoldersLeft } = removed
      if (holdLeave(liveHoldersLeft, lease) === "kept") return { left: "kept", holdersLeft: liveHoldersLeft }
      // As an explicit release: the warm set it may rejoin is sized by the warm target.
      const floor = shaped(config, yield* autoscaler.target(config), config.maxContainers)
      const outcome = isCurrentBinding(lease, config) ? releaseOutcome(yield* store.counts, lease, at, floor) : "stopped"
      return { left: "ended", holdersLeft: 0, end: { lease, outcome } }
    })

  /**
   * Removes `holder`; the last live holder of a lease no plain use marked ends it, as a release would: in the
   * same locked step (`Fencing.endLease`), so no plain `getContainer` renews a lease whose end is decided.
   */
  const releaseHold = (sessionId: string, holder: string) =>
    Effect.gen(function*() {
      const { config } = yield* settings.get
      const { decided, fate } = yield* fencing.endLease(leave(sessionId, holder, config))
      return { outcome: fate ?? (decided.left === "kept" ? "kept" : "not-held"), holdersLeft: decided.holdersLeft } satisfies HoldReleased
    })

  /** A live holder renews itself (see `holdPolicy.holdRenewalMs`); false when its lease no longer has it. */
  const renewHold = (sessionId: string, holder: string) =>
    Effect.gen(function*() {
      const { config } = yield* settings.get
      const deadline = holderDeadline(yield* now, config)
      return yield* store.exclusive(store.extendHolder(sessionId, holder, deadline))
    })

  return { hold, releaseHold, renewHold }
})

export type HoldsService = Effect.Effect.Success<typeof make>

export class Holds extends Context.Tag("cf-container-warm-pool/Holds")<Holds, HoldsService>() {
  static readonly make = make
  static readonly layer = Layer.effect(Holds, make)
}
