/**
 * The pool's policy, as pure functions: slot states, counts, capacity, refills, lease
 * deadlines and the sticky-cache grant. Nothing here touches storage, stubs or clocks.
 *
 * A slot is one container the pool tracks. Its life:
 *   warming  → warm → acquired → (warming, returning, → warm again on release; or stopping)
 *   starting → acquired        (a cold start made for one session)
 *   any      → stopping → gone
 * A released container returns through `warming`: its lease ends at once, and it rejoins the warm set
 * once it revoked that lease (`Fencing`), so it counts toward the warm set but serves no one meanwhile.
 * A lease is the `acquired` slot itself: its session, its deadline and its cache grant.
 */
import type { WarmPoolConfig } from "../Config.js"
import type { PoolStats } from "../Protocol.js"

export type SlotState = "warming" | "starting" | "warm" | "acquired" | "stopping"

export interface Slot {
  readonly container: string
  readonly state: SlotState
  /** The session a `starting` or `acquired` slot belongs to. */
  readonly sessionId: string | null
  /** The lease's deadline of an `acquired` slot (epoch ms); null in other states. */
  readonly expiresAt: number | null
  /**
   * When the next health check of a `warm` or `acquired` slot is due (epoch ms), never later than
   * the lease's deadline; null in other states.
   */
  readonly checkDueAt: number | null
  /** The container binding it was started in; absent on rows from before bindings were recorded. */
  readonly binding?: string
  /**
   * Set on a `warming` slot whose container is coming back from a lease that ended (see `PoolStore.recycle`), not
   * a new start: the lease epoch it returns at. Its container may still admit the ended lease's token until it
   * revokes it.
   */
  readonly returningAt?: number
  /** The config's `revision` when it was reserved; absent when the config had none. */
  readonly revision?: string
  /** When it was reserved (epoch ms); absent on rows from before ages were recorded. */
  readonly createdAt?: number
  /** When a warm slot last became warm (epoch ms); absent in other states. */
  readonly idleSince?: number
}

export interface Lease {
  readonly sessionId: string
  readonly container: string
  /** Epoch ms after which the lease is expired. */
  readonly expiresAt: number
  /**
   * Until when (epoch ms) a client's sticky cache may still map the session to this container.
   * The container is not returned to the warm set before then (see `releaseOutcome`).
   */
  readonly cachedUntil: number
  /** The container binding its container was started in (see `Slot.binding`). */
  readonly binding?: string
  /**
   * True once plain `getContainer` (or its cache's renewal) used the lease: it lives by its sliding deadline,
   * and scoped holders leaving never end it (see `holdReleaseOutcome`).
   */
  readonly sliding?: boolean
  /** The lease's epoch: its token, which the container checks on every request (see `fence.ts`). */
  readonly fence?: number
  /** The revision its container was started for (see `Slot.revision`). */
  readonly revision?: string
}

/**
 * Whether a slot belongs to the pool's current binding and revision. One started in an earlier binding
 * or for an earlier revision keeps its session until released or expired, is checked and stopped in its
 * own binding, and never rejoins the warm set: clients of the current binding could not reach it, and a
 * new revision asks for new containers.
 */
export const isCurrentBinding = (
  slot: { readonly binding?: string; readonly revision?: string },
  config: Pick<WarmPoolConfig, "containerBinding" | "revision">
): boolean =>
  (slot.binding === undefined || slot.binding === config.containerBinding) && slot.revision === config.revision

/** A lease's deadlines, as set when it is created or renewed. */
export interface LeaseTerms {
  /** The caller's sliding deadline; a renewal keeps a later one if a cache grant still stands. */
  readonly expiresAt: number
  /** Never lowered by a renewal: a cache granted earlier may still be alive. */
  readonly cachedUntil: number
  /** False for a scoped hold's use; plain use (the default) marks the lease sliding for good. */
  readonly sliding?: boolean
}

/** How many slots are in each state. Every acquired slot is one lease. */
export interface SlotCounts {
  readonly warming: number
  readonly starting: number
  readonly warm: number
  readonly acquired: number
  readonly stopping: number
}

export const emptyCounts: SlotCounts = { warming: 0, starting: 0, warm: 0, acquired: 0, stopping: 0 }

/** Every container the pool holds, stopping ones included: they still run until destroyed. */
export const totalContainers = (counts: SlotCounts): number =>
  counts.warming + counts.starting + counts.warm + counts.acquired + counts.stopping

/** Containers that may still be started without passing `maxContainers`. */
export const capacityLeft = (counts: SlotCounts, config: Pick<WarmPoolConfig, "maxContainers">): number =>
  Math.max(0, config.maxContainers - totalContainers(counts))

/** The warm set: warm containers plus the refills already warming toward it. */
export const warmSet = (counts: SlotCounts): number => counts.warm + counts.warming

/** How many refills to start now so the warm set reaches `minContainers`, within the cap. */
export const refillNeeded = (
  counts: SlotCounts,
  config: Pick<WarmPoolConfig, "minContainers" | "maxContainers">
): number => Math.min(Math.max(0, config.minContainers - warmSet(counts)), capacityLeft(counts, config))

/** How many containers `warmup(count)` starts: the count asked for (default: the refill), within the cap. */
export const warmupCount = (
  counts: SlotCounts,
  count: number | undefined,
  config: Pick<WarmPoolConfig, "minContainers" | "maxContainers">
): number => Math.min(count ?? refillNeeded(counts, config), capacityLeft(counts, config))

export const isLeaseLive = (lease: Lease, now: number): boolean => lease.expiresAt > now

export type ReleaseOutcome = "warm" | "stopped"

/**
 * A released container refills the warm set while it is short, and is stopped otherwise.
 * An expired lease is always stopped: its holder may still use the container.
 * So is a lease some client's sticky cache may still hold: another isolate could serve that
 * cache entry after this release, and it must never reach a container leased to another id.
 */
export const releaseOutcome = (
  counts: SlotCounts,
  lease: Lease,
  now: number,
  config: Pick<WarmPoolConfig, "minContainers">,
  liveHolders = 0
): ReleaseOutcome =>
  isLeaseLive(lease, now) && lease.cachedUntil <= now && liveHolders === 0 && warmSet(counts) < config.minContainers
    ? "warm"
    : "stopped"

/**
 * An orphan found running (left mid-start by an earlier instance) joins the warm set only while it
 * is short, counting neither itself nor the `undecided` warming orphans still to be judged.
 */
export const adoptOrphan = (
  counts: SlotCounts,
  undecided: number,
  config: Pick<WarmPoolConfig, "minContainers">
): boolean => warmSet(counts) - undecided < config.minContainers

/**
 * How long a client may serve a session from its sticky cache without asking the pool: at most
 * `stickyCacheTtl`, and at most half a lease, so the entry always lapses strictly inside the lease's
 * life. The client renews in the background after half the grant, so a busy session stays cached with
 * at most one pool round trip per half grant. The TTL also bounds how long an isolate can keep serving
 * a container the pool has dropped. 0 when the caller keeps no cache.
 */
export const cacheGrantMs = (
  config: Pick<WarmPoolConfig, "acquireTimeout" | "stickyCacheSize" | "stickyCacheTtl">
): number => config.stickyCacheSize > 0 ? Math.min(Math.floor(config.acquireTimeout / 2), config.stickyCacheTtl) : 0

/**
 * A client's clock may stand still while it computes without I/O (workerd), so its entry can be
 * served later than the grant says: by at most the CPU time of one invocation, which Workers cap at 5 min.
 */
export const CLIENT_CLOCK_SLACK_MS = 5 * 60_000

/**
 * A lease's terms after a use at `now` by a caller granted `grantMs` of cache: the sliding deadline,
 * and until when the pool must treat the lease as cached (the grant plus a client clock's slack).
 */
export const leaseTerms = (
  now: number,
  grantMs: number,
  config: Pick<WarmPoolConfig, "acquireTimeout">,
  sliding = true
): LeaseTerms => ({
  expiresAt: now + config.acquireTimeout,
  cachedUntil: grantMs > 0 ? now + grantMs + CLIENT_CLOCK_SLACK_MS : 0,
  sliding
})

/** Container states, as `Container.getState()` reports them. */
export type ContainerStatus = "running" | "healthy" | "stopping" | "stopped" | "stopped_with_code"

/** Only a running container can serve; anything stopping or stopped is dead to the pool. */
export const isAlive = (status: string): boolean => status === "running" || status === "healthy"

/** What a health check learned: a status that says running, one that says otherwise, or no answer in time. */
export type Probe = "alive" | "dead" | "unanswered"

export type CheckOutcome = "keep" | "drop" | "recheck"

/**
 * A container that reports it is not running is dropped at once. One that did not answer is dropped at
 * once while warm, but a leased one only when `failedInARow` (this check included) reaches
 * `limits.failedChecksToDrop`: one slow or failed `getState` must not end a session. Until then it is
 * checked again after `retryDelay`.
 */
export const checkOutcome = (state: SlotState, probe: Probe, failedInARow: number): CheckOutcome =>
  probe === "alive"
    ? "keep"
    : probe === "dead" || state !== "acquired" || failedInARow >= limits.failedChecksToDrop
    ? "drop"
    : "recheck"

/** What `stats()` reports, from the maintained counts. */
/** The count fields of `stats()`; the metrics come from the pool row (`SqliteMetrics`). */
export const toStats = (
  counts: SlotCounts,
  startFailures: number,
  config: WarmPoolConfig
): Omit<PoolStats, "newSessions" | "starts" | "startTimeMs" | "containerSeconds"> => ({
  warm: counts.warm,
  acquired: counts.acquired,
  warming: counts.warming + counts.starting,
  total: totalContainers(counts),
  config,
  stopping: counts.stopping,
  sessions: counts.acquired,
  startFailures
})

/** Bounds on the work one call or one alarm tick does, and on every call the pool makes to a container. */
export const limits = {
  /** Container starts in parallel for refills and warmup. */
  startConcurrency: 8,
  /** Health checks and stops in parallel. */
  callConcurrency: 16,
  /** Slots health-checked, leases expired and orphans repaired per tick; a backlog re-arms the alarm at once. */
  tickPage: 256,
  /** Longest wait for a container's `getState()`. */
  statusTimeoutMs: 10_000,
  /** Health checks of a leased container that must fail in a row, with no answer, before it is dropped. */
  failedChecksToDrop: 2,
  /** Longest wait for a container's `destroy()`: a stop that takes longer stays `stopping`, and the next tick retries it. */
  stopTimeoutMs: 10_000,
  /** Longest wait for a warm container's `renewActivityTimeout()`. */
  keepAliveTimeoutMs: 5_000,
  /** Longest wait for a `PooledContainer` to revoke a released lease; no answer stops the container instead. */
  revokeTimeoutMs: 5_000,
  /** Longest backoff between two start attempts: the 5 s cap plus 20 % jitter. */
  startBackoffMaxMs: 6_000,
  /**
   * How long one tick works on containers (expiry, repair, health, refill). Each call is bounded, a page of
   * them is not: past this, the tick interrupts what is left (launches stop what they began) and re-arms soon.
   */
  tickWorkBudgetMs: 60_000
} as const

/**
 * The longest one launch takes: every attempt is bounded by `startupTimeout` and by the stop of what it
 * began, with backoff between attempts. A `getContainer` that cold-starts settles within this (plus storage).
 */
export const startBudgetMs = (config: Pick<WarmPoolConfig, "startRetries" | "startupTimeout">): number =>
  (config.startRetries + 1) * (config.startupTimeout + limits.stopTimeoutMs) + config.startRetries * limits.startBackoffMaxMs

/** How long each operation may take, storage aside, even when a container never answers. */
export const settleBounds = {
  /** A release revokes its lease (returning the container to the warm set) or stops it, or both if the revoke fails. */
  releaseMs: limits.revokeTimeoutMs + limits.stopTimeoutMs,
  /** Shutdown stops every container in parallel, and interrupted launches stop theirs at the same time. */
  shutdownMs: limits.stopTimeoutMs,
  /** The tick's work budget, plus the stops of the launches it interrupts at the end of it. */
  tickMs: limits.tickWorkBudgetMs + limits.stopTimeoutMs
} as const

/** How soon the alarm retries after a failure: soon, but never later than the next check would be. */
export const retryDelay = (config: Pick<WarmPoolConfig, "healthCheckInterval">): number =>
  Math.min(config.healthCheckInterval, 5_000)
