/**
 * Pure pool logic: slot states, counts, capacity, refill and lease arithmetic.
 * Nothing here touches storage, stubs or clocks, so it is tested directly.
 *
 * A slot is one container the pool tracks. Its life:
 *   warming  → warm → acquired → (warm again on release, or stopping)
 *   starting → acquired        (a cold start made for one session)
 *   any      → stopping → gone
 */
import type { WarmPoolConfig } from "./Config.js"

export type SlotState = "warming" | "starting" | "warm" | "acquired" | "stopping"

export const slotStates: ReadonlyArray<SlotState> = ["warming", "starting", "warm", "acquired", "stopping"]

export interface Slot {
  readonly container: string
  readonly state: SlotState
  /** The session a `starting` or `acquired` slot belongs to. */
  readonly sessionId: string | null
  /** When the next health check of this slot is due (epoch ms). */
  readonly checkDueAt: number
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
}

/** How many slots are in each state, and how many leases exist. Stores maintain these. */
export interface SlotCounts {
  readonly warming: number
  readonly starting: number
  readonly warm: number
  readonly acquired: number
  readonly stopping: number
  readonly sessions: number
}

export const emptyCounts: SlotCounts = { warming: 0, starting: 0, warm: 0, acquired: 0, stopping: 0, sessions: 0 }

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
  config: Pick<WarmPoolConfig, "minContainers">
): ReleaseOutcome =>
  isLeaseLive(lease, now) && lease.cachedUntil <= now && warmSet(counts) < config.minContainers ? "warm" : "stopped"

/** The sliding lease deadline after a use at `now`. */
export const leaseDeadline = (now: number, config: Pick<WarmPoolConfig, "acquireTimeout">): number =>
  now + config.acquireTimeout

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
 * Until when the pool treats a lease as cached after granting `cacheGrantMs` at `now`: the grant plus
 * the slack of a client's clock. 0 when nothing was granted.
 */
export const cachedUntil = (
  now: number,
  config: Pick<WarmPoolConfig, "acquireTimeout" | "stickyCacheSize" | "stickyCacheTtl">
): number => {
  const grant = cacheGrantMs(config)
  return grant > 0 ? now + grant + CLIENT_CLOCK_SLACK_MS : 0
}

/** What the pool answers to `getContainer`: the container, and how long the caller may cache it. */
export interface Grant {
  readonly container: string
  /** Ms from the caller's request during which it may serve the session from its cache. */
  readonly cacheForMs: number
}

/** Container states, as `Container.getState()` reports them. */
export type ContainerStatus = "running" | "healthy" | "stopping" | "stopped" | "stopped_with_code"

/** Only a running container can serve; anything stopping or stopped is dead to the pool. */
export const isAlive = (status: string): boolean => status === "running" || status === "healthy"

/** What `stats()` reports. The first five fields are the README's contract. */
export interface PoolStats {
  readonly warm: number
  readonly acquired: number
  /** Containers starting: refills of the warm set and cold starts for sessions. */
  readonly warming: number
  /** Every container the pool holds, including those being stopped. */
  readonly total: number
  readonly config: WarmPoolConfig
  readonly stopping: number
  /** Live and not yet collected leases. */
  readonly sessions: number
  /** Failed start attempts since the pool was created. */
  readonly startFailures: number
}

export const toStats = (counts: SlotCounts, startFailures: number, config: WarmPoolConfig): PoolStats => ({
  warm: counts.warm,
  acquired: counts.acquired,
  warming: counts.warming + counts.starting,
  total: totalContainers(counts),
  config,
  stopping: counts.stopping,
  sessions: counts.sessions,
  startFailures
})

/** What `releaseContainer` reports. */
export interface ReleaseResult {
  /** False when the id held no lease: nothing was changed. */
  readonly released: boolean
  /** Where the container went: back to the warm set, or stopped. */
  readonly outcome: ReleaseOutcome | "unknown-session"
}

/** What `warmup` reports. */
export interface WarmupResult {
  /** Containers started and now warm. */
  readonly started: number
  readonly warm: number
}

/** What `shutdown` reports. */
export interface ShutdownResult {
  /** Containers stopped. */
  readonly stopped: number
}
