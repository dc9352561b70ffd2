/**
 * Where the pool keeps its slots and leases. Every method is one atomic step:
 * the engine never reads in one call and writes in another, so concurrent
 * requests cannot interleave inside a decision.
 */
import { Context, Effect, Layer } from "effect"
import type { Lease, ReleaseOutcome, Slot, SlotCounts, SlotState } from "./Slot.js"
import { emptyCounts } from "./Slot.js"

export interface ReserveRequest {
  readonly state: "warming" | "starting"
  readonly sessionId: string | null
  /** How many slots to add, decided against the counts inside the same step. */
  readonly howMany: (counts: SlotCounts) => number
  readonly newName: () => string
  /** The container's Durable Object id, stored so a notice that carries only the id finds its slot. */
  readonly objectIdOf?: (container: string) => string
  readonly checkDueAt: number
}

/** A lease's deadlines, as set when it is created or renewed. */
export interface LeaseTerms {
  readonly expiresAt: number
  /** Never lowered by a renewal: a cache granted earlier may still be alive. */
  readonly cachedUntil: number
}

export interface Released {
  readonly container: string
  readonly outcome: ReleaseOutcome
}

export interface PoolStoreService {
  readonly loadConfig: Effect.Effect<string | undefined>
  readonly saveConfig: (key: string) => Effect.Effect<void>
  /** Whether the pool was shut down and not used since; it survives restarts of the Durable Object. */
  readonly dormant: Effect.Effect<boolean>
  readonly setDormant: (dormant: boolean) => Effect.Effect<void>
  readonly counts: Effect.Effect<SlotCounts>
  readonly startFailures: Effect.Effect<number>
  readonly recordStartFailure: Effect.Effect<void>
  readonly lease: (sessionId: string) => Effect.Effect<Lease | undefined>
  /** Slides the session's lease if it still holds `container`; false when it does not. */
  readonly renewLease: (sessionId: string, container: string, terms: LeaseTerms) => Effect.Effect<boolean>
  /** Hands a warm slot to the session and creates its lease. */
  readonly assignWarm: (sessionId: string, terms: LeaseTerms) => Effect.Effect<string | undefined>
  /** Adds `howMany(counts)` new slots; returns their container names. */
  readonly reserve: (request: ReserveRequest) => Effect.Effect<ReadonlyArray<string>>
  /**
   * A started `warming` (or orphaned `starting`) slot becomes warm; false when it is no longer tracked,
   * or when `accept`, asked against the counts inside the same step, says no.
   */
  readonly promote: (
    container: string,
    checkDueAt: number,
    accept?: (counts: SlotCounts) => boolean
  ) => Effect.Effect<boolean>
  /** A started `starting` slot becomes its session's, with a lease; false when it is no longer tracked. */
  readonly bind: (container: string, sessionId: string, terms: LeaseTerms) => Effect.Effect<boolean>
  /** Ends a session's lease; its slot goes warm or stopping, as `decide` says against the counts. */
  readonly release: (
    sessionId: string,
    decide: (counts: SlotCounts, lease: Lease) => ReleaseOutcome,
    checkDueAt: number
  ) => Effect.Effect<Released | undefined>
  /** Ends up to `limit` leases that expired by `now`; their slots go stopping. */
  readonly expireLeases: (now: number, limit: number) => Effect.Effect<ReadonlyArray<string>>
  /** A slot goes stopping and loses its lease; returns the slot as it was. */
  readonly markStopping: (container: string) => Effect.Effect<Slot | undefined>
  /** Every slot goes stopping and every lease ends; returns all container names. */
  readonly markAllStopping: Effect.Effect<ReadonlyArray<string>>
  readonly remove: (container: string) => Effect.Effect<void>
  /** Warm and acquired slots whose health check is due, oldest first. */
  readonly dueForCheck: (now: number, limit: number) => Effect.Effect<ReadonlyArray<Slot>>
  readonly scheduleCheck: (container: string, at: number) => Effect.Effect<void>
  readonly inState: (state: SlotState, limit: number) => Effect.Effect<ReadonlyArray<Slot>>
  readonly slot: (container: string) => Effect.Effect<Slot | undefined>
  /** The name of the tracked container with this Durable Object id (as given to `reserve`), if any. */
  readonly containerByObjectId: (objectId: string) => Effect.Effect<string | undefined>
  /** Every slot and lease, for tests and audits. */
  readonly snapshot: Effect.Effect<{ readonly slots: ReadonlyArray<Slot>; readonly leases: ReadonlyArray<Lease> }>
}

export class PoolStore extends Context.Tag("cf-container-warm-pool/PoolStore")<PoolStore, PoolStoreService>() {
  /** An in-memory store, for tests and for pools that need no persistence. */
  static readonly memory: Layer.Layer<PoolStore> = Layer.sync(PoolStore, () => makeMemoryStore())
}

interface MutableSlot {
  container: string
  state: SlotState
  sessionId: string | null
  checkDueAt: number
}

/** Builds an in-memory store; counts are maintained on every state change, as the SQL triggers do. */
export const makeMemoryStore = (): PoolStoreService => {
  const slots = new Map<string, MutableSlot>()
  const byObjectId = new Map<string, string>()
  const objectIdOf = new Map<string, string>()
  const leases = new Map<string, Lease>()
  const counts: Record<keyof SlotCounts, number> = { ...emptyCounts }
  let config: string | undefined
  let dormant = false
  let startFailures = 0

  const freeze = (slot: MutableSlot): Slot => ({ ...slot })
  const setState = (slot: MutableSlot, state: SlotState) => {
    counts[slot.state]--
    counts[state]++
    slot.state = state
  }
  const deleteLease = (sessionId: string) => {
    if (leases.delete(sessionId)) counts.sessions--
  }
  const putLease = (lease: Lease) => {
    if (!leases.has(lease.sessionId)) counts.sessions++
    leases.set(lease.sessionId, lease)
  }
  const stopSlot = (slot: MutableSlot) => {
    if (slot.sessionId !== null && leases.get(slot.sessionId)?.container === slot.container) {
      deleteLease(slot.sessionId)
    }
    setState(slot, "stopping")
    slot.sessionId = null
  }

  return {
    loadConfig: Effect.sync(() => config),
    saveConfig: (key) => Effect.sync(() => void (config = key)),
    dormant: Effect.sync(() => dormant),
    setDormant: (value) => Effect.sync(() => void (dormant = value)),
    counts: Effect.sync(() => ({ ...counts })),
    startFailures: Effect.sync(() => startFailures),
    recordStartFailure: Effect.sync(() => void startFailures++),
    lease: (sessionId) => Effect.sync(() => leases.get(sessionId)),
    renewLease: (sessionId, container, terms) =>
      Effect.sync(() => {
        const lease = leases.get(sessionId)
        if (lease === undefined || lease.container !== container) return false
        leases.set(sessionId, {
          ...lease,
          expiresAt: terms.expiresAt,
          cachedUntil: Math.max(lease.cachedUntil, terms.cachedUntil)
        })
        return true
      }),
    assignWarm: (sessionId, terms) =>
      Effect.sync(() => {
        if (leases.has(sessionId)) return undefined
        for (const slot of slots.values()) {
          if (slot.state !== "warm") continue
          setState(slot, "acquired")
          slot.sessionId = sessionId
          putLease({ sessionId, container: slot.container, ...terms })
          return slot.container
        }
        return undefined
      }),
    reserve: (request) =>
      Effect.sync(() => {
        const names: Array<string> = []
        const howMany = request.howMany({ ...counts })
        for (let i = 0; i < howMany; i++) {
          const container = request.newName()
          slots.set(container, {
            container,
            state: request.state,
            sessionId: request.sessionId,
            checkDueAt: request.checkDueAt
          })
          counts[request.state]++
          if (request.objectIdOf !== undefined) {
            const objectId = request.objectIdOf(container)
            byObjectId.set(objectId, container)
            objectIdOf.set(container, objectId)
          }
          names.push(container)
        }
        return names
      }),
    promote: (container, checkDueAt, accept) =>
      Effect.sync(() => {
        const slot = slots.get(container)
        if (slot === undefined || (slot.state !== "warming" && slot.state !== "starting")) return false
        if (accept !== undefined && !accept({ ...counts })) return false
        setState(slot, "warm")
        slot.sessionId = null
        slot.checkDueAt = checkDueAt
        return true
      }),
    bind: (container, sessionId, terms) =>
      Effect.sync(() => {
        const slot = slots.get(container)
        if (slot === undefined || slot.state !== "starting" || leases.has(sessionId)) return false
        setState(slot, "acquired")
        slot.sessionId = sessionId
        putLease({ sessionId, container, ...terms })
        return true
      }),
    release: (sessionId, decide, checkDueAt) =>
      Effect.sync(() => {
        const lease = leases.get(sessionId)
        if (lease === undefined) return undefined
        deleteLease(sessionId)
        const slot = slots.get(lease.container)
        if (slot === undefined) return undefined
        const outcome = decide({ ...counts }, lease)
        if (outcome === "warm") {
          setState(slot, "warm")
          slot.sessionId = null
          slot.checkDueAt = checkDueAt
        } else {
          stopSlot(slot)
        }
        return { container: slot.container, outcome }
      }),
    expireLeases: (now, limit) =>
      Effect.sync(() => {
        const expired = [...leases.values()]
          .filter((lease) => lease.expiresAt <= now)
          .sort((a, b) => a.expiresAt - b.expiresAt)
          .slice(0, limit)
        for (const lease of expired) {
          deleteLease(lease.sessionId)
          const slot = slots.get(lease.container)
          if (slot !== undefined) stopSlot(slot)
        }
        return expired.map((lease) => lease.container)
      }),
    markStopping: (container) =>
      Effect.sync(() => {
        const slot = slots.get(container)
        if (slot === undefined) return undefined
        const before = freeze(slot)
        stopSlot(slot)
        return before
      }),
    markAllStopping: Effect.sync(() => {
      for (const slot of slots.values()) stopSlot(slot)
      for (const sessionId of [...leases.keys()]) deleteLease(sessionId)
      return [...slots.keys()]
    }),
    remove: (container) =>
      Effect.sync(() => {
        const slot = slots.get(container)
        if (slot === undefined) return
        if (slot.sessionId !== null && leases.get(slot.sessionId)?.container === container) {
          deleteLease(slot.sessionId)
        }
        counts[slot.state]--
        slots.delete(container)
        const objectId = objectIdOf.get(container)
        if (objectId !== undefined) byObjectId.delete(objectId)
        objectIdOf.delete(container)
      }),
    dueForCheck: (now, limit) =>
      Effect.sync(() =>
        [...slots.values()]
          .filter((slot) => (slot.state === "warm" || slot.state === "acquired") && slot.checkDueAt <= now)
          .sort((a, b) => a.checkDueAt - b.checkDueAt)
          .slice(0, limit)
          .map(freeze)
      ),
    scheduleCheck: (container, at) =>
      Effect.sync(() => {
        const slot = slots.get(container)
        if (slot !== undefined) slot.checkDueAt = at
      }),
    inState: (state, limit) =>
      Effect.sync(() => [...slots.values()].filter((slot) => slot.state === state).slice(0, limit).map(freeze)),
    slot: (container) =>
      Effect.sync(() => {
        const slot = slots.get(container)
        return slot === undefined ? undefined : freeze(slot)
      }),
    containerByObjectId: (objectId) =>
      Effect.sync(() => {
        const container = byObjectId.get(objectId)
        return container !== undefined && slots.has(container) ? container : undefined
      }),
    snapshot: Effect.sync(() => ({ slots: [...slots.values()].map(freeze), leases: [...leases.values()] }))
  }
}
