/**
 * The policy of scoped holds, as pure functions. A hold is one scoped use of a session's lease
 * (`acquire`, `fetch`), registered in the pool under an id the client chose, so holds taken in
 * different isolates count together. Nothing here touches storage, stubs or clocks.
 */
import type { WarmPoolConfig } from "../Config.js"
import type { Lease } from "./policy.js"

/** A holder that never leaves (its isolate died) lapses like a lease: `acquireTimeout` after it was taken. */
export const holderDeadline = (now: number, config: Pick<WarmPoolConfig, "acquireTimeout">): number =>
  now + config.acquireTimeout

/** What a holder's leaving does to its lease. */
export type HoldLeave = "kept" | "end"

/**
 * The last live holder to leave ends the lease; while another live holder remains, it stays. A lease
 * plain `getContainer` used (`sliding`) is never ended by holders: it lives by its sliding deadline,
 * until it expires or is released explicitly.
 */
export const holdLeave = (liveHoldersLeft: number, lease: Pick<Lease, "sliding">): HoldLeave =>
  liveHoldersLeft > 0 || lease.sliding === true ? "kept" : "end"

/**
 * How often a live holder renews itself: twice per `acquireTimeout`, so one late or lost renewal does not
 * lapse it. Only a holder whose isolate died, or that was dropped, lapses.
 */
export const holdRenewalMs = (config: Pick<WarmPoolConfig, "acquireTimeout">): number =>
  Math.max(1, Math.floor(config.acquireTimeout / 2))

/**
 * How often a hold retries its assignment when the lease it was given ended before the holder was
 * registered (released, expired or dropped in between).
 */
export const holdAttempts = 3
