/**
 * Scoped holds on leases: `hold` gives a session's container to one scoped use and registers its
 * holder; `releaseHold` removes it, and the last live holder out ends the lease. Holders live in the
 * pool's store, so holds taken in different isolates count together. Each decision runs under
 * `PoolStore.exclusive`, as an explicit release does, so no hold is registered between a last holder's
 * count and the end of its lease.
 */
import { Clock, Context, Effect, Layer } from "effect"
import { PoolUnavailable } from "../Errors.js"
import type { HoldReleased } from "../Protocol.js"
import type { AssignmentError } from "./Assignment.js"
import { Assignment } from "./Assignment.js"
import { Fencing } from "./Fencing.js"
import { Autoscaler, shaped } from "./Autoscaler.js"
import { holdAttempts, holderDeadline, holdLeave } from "./holdPolicy.js"
import { Lifecycle } from "./Lifecycle.js"
import { isCurrentBinding, releaseOutcome } from "./policy.js"
import { PoolSettings } from "./PoolSettings.js"
import { PoolStore } from "./PoolStore.js"

export const make = Effect.gen(function*() {
  const store = yield* PoolStore
  const settings = yield* PoolSettings
  const lifecycle = yield* Lifecycle
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

  /** Removes `holder`; the last live holder of a lease no plain use marked ends it, as a release would. */
  const releaseHold = (sessionId: string, holder: string) =>
    Effect.gen(function*() {
      const { config } = yield* settings.get
      const left = yield* store.exclusive(Effect.gen(function*() {
        const at = yield* now
        const removed = yield* store.removeHolder(sessionId, holder, at)
        if (removed === undefined) return { outcome: "not-held", liveHoldersLeft: 0 } as const
        const { lease, liveHoldersLeft } = removed
        if (holdLeave(liveHoldersLeft, lease) === "kept") return { outcome: "kept", liveHoldersLeft } as const
        // As an explicit release: the warm set it may rejoin is sized by the warm target.
        const floor = shaped(config, yield* autoscaler.target(config), config.maxContainers)
        const outcome = isCurrentBinding(lease, config) ? releaseOutcome(yield* store.counts, lease, at, floor) : "stopped"
        if (outcome === "stopped") yield* store.markStopping(lease.container)
        return { outcome, liveHoldersLeft: 0, lease, at } as const
      }))
      if (left.outcome === "kept" || left.outcome === "not-held") {
        return { outcome: left.outcome, holdersLeft: left.liveHoldersLeft } satisfies HoldReleased
      }
      // As in a release: a fenced container rejoins the warm set only once it revoked the lease.
      const { at, lease } = left
      const outcome = left.outcome === "warm"
        ? yield* fencing.returnToWarm(lease, at + config.healthCheckInterval)
        : left.outcome
      if (outcome === "stopped") yield* lifecycle.stop(lease.container, "released")
      return { outcome: outcome === "gone" ? "not-held" : outcome, holdersLeft: 0 } satisfies HoldReleased
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
