/**
 * Where the pool keeps its slots: one row per container it tracks, with the lease of an
 * acquired one on the same row. Every method is one atomic step. Methods that decide
 * on counts read in an earlier step run inside `exclusive`, so no other decision
 * interleaves between their read and their write.
 */
import { Context, Effect, Layer } from "effect"
import { reasonOf, StorageError } from "./errors.js"
import type { Lease, LeaseTerms, Slot, SlotCounts, SlotState } from "./policy.js"
import type { Metrics, SlotView, StartFailureCause } from "./SqliteMetrics.js"
import type { SqlStorageLike } from "./SqlitePoolStore.js"
import { makeHolderStatements } from "./SqliteHolders.js"
import { makeRecord, makeStore, migrate } from "./SqlitePoolStore.js"

/** A slot about to be reserved for a container that is not started yet. */
export interface NewSlot {
  /** The container's name: its Durable Object id, as `ctx.id.toString()` shows it inside the container. */
  readonly container: string
  readonly state: "warming" | "starting"
  /** The session a cold start (`starting`) is for. */
  readonly sessionId: string | null
  /** The container binding it is started in (the pool's current one). */
  readonly binding?: string
  /** The config's revision, if it has one. */
  readonly revision?: string
}

/** The holders of leases: scoped uses, counted in the pool whichever isolate took them (see `holdPolicy`). */
export interface HolderStatements {
  /**
   * Registers `holder` on the session's lease if that lease still holds `container` (false otherwise), until
   * `expiresAt`; the lease's deadline is raised to at least that. Registering a holder again extends it.
   */
  readonly addHolder: (
    sessionId: string,
    container: string,
    holder: string,
    expiresAt: number
  ) => Effect.Effect<boolean, StorageError>
  /**
   * Removes `holder` from the session's current lease: the lease as it stands and how many live holders
   * (deadline after `now`) remain; undefined when that lease has no such holder (it ended, or never had it).
   */
  readonly removeHolder: (
    sessionId: string,
    holder: string,
    now: number
  ) => Effect.Effect<{ readonly lease: Lease; readonly liveHoldersLeft: number } | undefined, StorageError>
  /**
   * Extends `holder` on the session's current lease to at least `expiresAt` (and the lease with it); false
   * when that lease has no such holder.
   */
  readonly extendHolder: (sessionId: string, holder: string, expiresAt: number) => Effect.Effect<boolean, StorageError>
  /** Holders of the container's lease whose deadline is after `now`. */
  readonly liveHolders: (container: string, now: number) => Effect.Effect<number, StorageError>
}

export interface PoolStoreService extends HolderStatements {
  /** Runs a read-decide-write sequence with no other such sequence interleaving. */
  readonly exclusive: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly counts: Effect.Effect<SlotCounts, StorageError>
  readonly lease: (sessionId: string) => Effect.Effect<Lease | undefined, StorageError>
  /**
   * Slides the session's lease if it still holds `container`; false when it does not. The deadline is
   * never set below the end of a cache grant the lease already holds (another caller's, maybe).
   */
  readonly renewLease: (sessionId: string, container: string, terms: LeaseTerms) => Effect.Effect<boolean, StorageError>
  /**
   * Hands a warm slot to a session that holds none, as its lease: one started in `binding` (or from before
   * bindings were recorded) when given, and for `revision` (none matches only slots reserved with none).
   */
  readonly assignWarm: (
    sessionId: string,
    terms: LeaseTerms,
    binding?: string,
    revision?: string
  ) => Effect.Effect<string | undefined, StorageError>
  readonly reserve: (slots: ReadonlyArray<NewSlot>) => Effect.Effect<void, StorageError>
  /** Records the pool's revision; when it changed, recounts the slots of other revisions. True when it changed. */
  readonly noticeRevision: (revision: string | undefined) => Effect.Effect<boolean, StorageError>
  /** Slots held of revisions other than the one last noticed. */
  readonly olderRevisions: Effect.Effect<number, StorageError>
  /** Warm slots of another revision, or reserved at or before `bornBy` (epoch ms); oldest first. */
  readonly warmToRecycle: (
    revision: string | undefined,
    bornBy: number,
    limit: number
  ) => Effect.Effect<ReadonlyArray<Slot>, StorageError>
  /** A warm slot goes stopping, checked in the same step; false when it is no longer warm. */
  readonly stopIfWarm: (container: string) => Effect.Effect<boolean, StorageError>
  /** Warm slots idle since `idleBy` (epoch ms) or earlier, longest idle first. */
  readonly idleWarm: (idleBy: number, limit: number) => Effect.Effect<ReadonlyArray<Slot>, StorageError>
  /** A started `warming` (or orphaned `starting`) slot becomes warm; false when it is no longer tracked. */
  readonly promote: (container: string, checkDueAt: number) => Effect.Effect<boolean, StorageError>
  /** A started `starting` slot becomes its session's lease; false when it is untracked or the session holds another. */
  readonly bind: (container: string, terms: LeaseTerms, checkDueAt: number) => Effect.Effect<boolean, StorageError>
  /**
   * Ends an acquired slot's lease for its container's return to the warm set: in this one step the lease and its
   * holders go, and the slot goes `warming` (flagged `returning`) at the next lease epoch, which it returns;
   * undefined when the slot is not acquired. No renewal, lookup or hold finds the lease after this, and no
   * assignment takes the slot until `rejoinWarm`: its container must first revoke the ended lease (`Fencing`).
   */
  readonly recycle: (container: string) => Effect.Effect<number | undefined, StorageError>
  /** A returning slot, still at `epoch`, joins the warm set; false when something else took it meanwhile (a shutdown). */
  readonly rejoinWarm: (container: string, epoch: number, checkDueAt: number) => Effect.Effect<boolean, StorageError>
  /** A returning slot, still at `epoch`, goes stopping instead (its container did not revoke); false when it is not. */
  readonly stopReturning: (container: string, epoch: number) => Effect.Effect<boolean, StorageError>
  /** A slot goes stopping and its lease (if any) ends; returns the slot as it was. */
  readonly markStopping: (container: string) => Effect.Effect<Slot | undefined, StorageError>
  /** Ends the container's lease if it expired by `now` (checked in the same step); its slot goes stopping. */
  readonly expireLease: (container: string, now: number) => Effect.Effect<boolean, StorageError>
  /** Every slot goes stopping and every lease ends; returns all container names. */
  readonly markAllStopping: Effect.Effect<ReadonlyArray<string>, StorageError>
  readonly remove: (container: string) => Effect.Effect<void, StorageError>
  /**
   * Warm and acquired slots whose health check is due, oldest first. An acquired slot's check is
   * never later than its lease's deadline, so expired leases are among them.
   */
  readonly dueForCheck: (now: number, limit: number) => Effect.Effect<ReadonlyArray<Slot>, StorageError>
  /** The next check of a warm or acquired slot: at `at`, or at its lease's deadline if that comes first. */
  readonly scheduleCheck: (container: string, at: number) => Effect.Effect<void, StorageError>
  /**
   * A health check of an acquired slot got no answer: counts it, and checks again at `retryAt` (or at the
   * lease's deadline if sooner). Returns the failed checks in a row; 0 when the slot is no longer acquired.
   * A successful check (`scheduleCheck`) resets the count.
   */
  readonly recordFailedCheck: (container: string, retryAt: number) => Effect.Effect<number, StorageError>
  readonly inState: (state: SlotState, limit: number) => Effect.Effect<ReadonlyArray<Slot>, StorageError>
  /** A slot by its container's name (its Durable Object id). */
  readonly slot: (container: string) => Effect.Effect<Slot | undefined, StorageError>
  /** Up to `limit` slots after `cursor`, in name order (for `inspect`): O(limit) at any pool size. */
  readonly page: (cursor: string | null, limit: number) => Effect.Effect<ReadonlyArray<SlotView>, StorageError>
  /** Every slot and lease, for tests and audits. */
  readonly snapshot: Effect.Effect<
    { readonly slots: ReadonlyArray<Slot>; readonly leases: ReadonlyArray<Lease> },
    StorageError
  >
}

export class PoolStore extends Context.Tag("cf-container-warm-pool/PoolStore")<PoolStore, PoolStoreService>() {
  /** The store on SQLite storage whose tables exist (see `layer`). */
  /** State changes are stamped with the effect's clock (the metrics' container-seconds and start times). */
  static readonly make = (storage: SqlStorageLike): Effect.Effect<PoolStoreService> =>
    Effect.zipWith(Effect.clock, Effect.makeSemaphore(1), (clock, lock) => ({
      ...makeStore(storage, () => clock.unsafeCurrentTimeMillis()),
      ...makeHolderStatements(storage),
      exclusive: lock.withPermits(1)
    }))

  /** The store and the pool's record on SQLite storage, creating their tables first. */
  static readonly layer = (storage: SqlStorageLike): Layer.Layer<PoolStore | PoolRecord, StorageError> =>
    Layer.unwrapEffect(
      Effect.try({
        try: () => migrate(storage, Date.now()),
        catch: (cause) => new StorageError({ operation: "create tables", reason: reasonOf(cause) })
      }).pipe(
        Effect.as(Layer.merge(Layer.effect(PoolStore, PoolStore.make(storage)), PoolRecord.layer(storage)))
      )
    )
}

/** What the pool remembers about itself, beside its slots. */
export interface PoolRecordService {
  /** The pool's config as last saved (JSON), if any. */
  readonly config: Effect.Effect<string | undefined, StorageError>
  readonly saveConfig: (json: string) => Effect.Effect<void, StorageError>
  /** Whether the pool was shut down and not used since; it survives restarts. */
  readonly shutDown: Effect.Effect<boolean, StorageError>
  readonly setShutDown: (shutDown: boolean) => Effect.Effect<void, StorageError>
  readonly startFailures: Effect.Effect<number, StorageError>
  /** A failed start attempt, counted in total and by cause. */
  readonly recordStartFailure: (cause: StartFailureCause) => Effect.Effect<void, StorageError>
  /** A new session refused with `PoolExhausted`. */
  readonly recordRefusal: Effect.Effect<void, StorageError>
  /** The counters and figures of `stats()`: one row read. */
  readonly metrics: Effect.Effect<Metrics, StorageError>
}

export class PoolRecord extends Context.Tag("cf-container-warm-pool/PoolRecord")<PoolRecord, PoolRecordService>() {
  static readonly make = makeRecord
  /** The record on SQLite storage whose tables exist (`PoolStore.layer` creates them), on the effect's clock. */
  static readonly layer = (storage: SqlStorageLike): Layer.Layer<PoolRecord> =>
    Layer.effect(PoolRecord, Effect.map(Effect.clock, (clock) => makeRecord(storage, () => clock.unsafeCurrentTimeMillis())))
}
