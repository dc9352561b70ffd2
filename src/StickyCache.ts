/**
 * The client's per-isolate sticky cache: session id → container name, so a sticky
 * `getContainer` needs no pool round trip. Names are cached, never stubs: a stub is
 * tied to the request that made it.
 *
 * Why a cached entry can never lead to a container leased to another id:
 * 1. An entry is created only from a pool grant, and lapses `cacheForMs` after the client
 *    *sent* the request; the pool granted later, so the entry dies first in real time.
 * 2. The pool records the grant on the lease (`cachedUntil`, the lease's whole deadline, so
 *    even a clock frozen between I/O cannot outlast it) before answering, never lowers it, and
 *    answers a call that joined another's assignment only once its own grant is recorded.
 * 3. While `cachedUntil` is ahead, a release stops the container instead of returning it to
 *    the warm set (`releaseOutcome`). Expiry, failed health checks, `containerStopped` and
 *    shutdown always stop containers. Stopped containers are never reused: new ones get new names.
 * So an entry points at its own id's container, or at a stopped one (the call fails; `invalidate`
 * or the entry's lapse sends the next call to the pool), never at another id's.
 */

export interface CacheEntry {
  readonly container: string
  /** The lease's token, which the stub sends with every request (see `PooledContainer`). */
  readonly fence?: number
  /** Local epoch ms until which the entry may be served. */
  readonly validUntil: number
  /** Local epoch ms after which a hit renews the lease in the background. */
  readonly renewAfter: number
  /** A background renewal is running for this entry. */
  renewing: boolean
}

/** What a cache did since it was made: to measure hit rates end to end. */
export interface StickyCacheStats {
  readonly size: number
  /** Calls served from the cache, with no pool round trip. */
  readonly hits: number
  /** Calls that asked the pool: no entry, or a lapsed one. */
  readonly misses: number
  /** Background lease renewals started. */
  readonly renewals: number
}

/** A bounded LRU map of session ids to entries. */
export interface StickyCache {
  /** A live entry, made most recently used; a lapsed one is dropped. */
  readonly get: (sessionId: string, now: number) => CacheEntry | undefined
  /** The entry as it is, without touching its order: to check a renewal still owns it. */
  readonly peek: (sessionId: string) => CacheEntry | undefined
  /** Stores an entry, evicting the least recently used beyond `capacity`. */
  readonly set: (sessionId: string, entry: CacheEntry, capacity: number) => void
  readonly delete: (sessionId: string) => void
  readonly size: () => number
  /** Counts a call served from the cache (`hit`), sent to the pool (`miss`), or a renewal started. */
  readonly record: (event: "hit" | "miss" | "renewal") => void
  readonly stats: () => StickyCacheStats
}

export const make = (): StickyCache => {
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  const entries = new Map<string, CacheEntry>()
  const counted = { hit: 0, miss: 0, renewal: 0 }
  return {
    get: (sessionId, now) => {
      const entry = entries.get(sessionId)
      if (entry === undefined) return undefined
      entries.delete(sessionId)
      if (now >= entry.validUntil) return undefined
      entries.set(sessionId, entry)
      return entry
    },
    peek: (sessionId) => entries.get(sessionId),
    set: (sessionId, entry, capacity) => {
      entries.delete(sessionId)
      if (capacity <= 0) return
      entries.set(sessionId, entry)
      while (entries.size > capacity) {
        const oldest = entries.keys().next()
        if (oldest.done === true) break
        entries.delete(oldest.value)
      }
    },
    delete: (sessionId) => void entries.delete(sessionId),
    size: () => entries.size,
    record: (event) => void counted[event]++,
    stats: () => ({ size: entries.size, hits: counted.hit, misses: counted.miss, renewals: counted.renewal })
  }
}

// One cache per pool (namespace and name) per isolate, shared by every handle made in it.
const isolateCaches = new WeakMap<object, Map<string, StickyCache>>()

/** This isolate's cache for the pool `poolName` of `poolNamespace`. */
export const ofIsolate = (poolNamespace: object, poolName: string): StickyCache => {
  let byName = isolateCaches.get(poolNamespace)
  if (byName === undefined) {
    byName = new Map()
    isolateCaches.set(poolNamespace, byName)
  }
  let cache = byName.get(poolName)
  if (cache === undefined) {
    cache = make()
    byName.set(poolName, cache)
  }
  return cache
}
