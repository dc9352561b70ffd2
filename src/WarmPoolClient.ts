/**
 * The Effect client: a `WarmPoolClient` service over the `WarmPool` Durable Object.
 * It validates inputs locally, calls the pool over RPC, and turns container names
 * into stubs, so traffic goes straight to the container, never through the pool.
 * Sticky calls are served from the isolate's cache (see `StickyCache.ts`) with no RPC.
 */
import * as workers from "cloudflare:workers"
import type { Scope } from "effect"
import { Clock, Context, Effect, Fiber, Layer } from "effect"
import type { WarmPoolConfig, WarmPoolOptions } from "./Config.js"
import { decodeConfig } from "./Config.js"
import type { ContainerFenced, ContainerRequestFailed, InvalidConfig, WarmPoolError } from "./Errors.js"
import { newHolderId } from "./HolderId.js"
import { fencedStub } from "./internal/fencedStub.js"
import { holdRenewalMs } from "./internal/holdPolicy.js"
import { keepHolding } from "./internal/holdRenewal.js"
import { makeSessionFetch } from "./internal/sessionFetch.js"
import type { Grant, Method, PoolStats, ReleaseResult, ShutdownResult, WarmPoolRpc, WarmupResult } from "./Protocol.js"
import { callPool, methods, validateWarmupCount } from "./Protocol.js"
import type { InspectOptions, InspectResult } from "./Inspect.js"
import { validateInspectOptions } from "./Inspect.js"
import { validateSessionId } from "./SessionId.js"
import { attributes } from "./internal/tracing.js"
import type { StickyCache } from "./StickyCache.js"
import * as StickyCaches from "./StickyCache.js"

/** A stub of the user's container Durable Object. */
export type ContainerStub<C extends Rpc.DurableObjectBranded | undefined = undefined> = DurableObjectStub<C>

export interface WarmPoolClientService<C extends Rpc.DurableObjectBranded | undefined = undefined> {
  readonly config: WarmPoolConfig
  /**
   * The container leased to `sessionId`; each call slides the lease's expiry. A sticky call
   * is served from the isolate's cache with no pool round trip, renewing the lease in the
   * background at most once per half cache grant (`min(stickyCacheTtl, acquireTimeout / 2) / 2`).
   */
  readonly getContainer: (sessionId: string) => Effect.Effect<ContainerStub<C>, WarmPoolError>
  /** Drops this isolate's cached entry for `sessionId`, so its next call asks the pool (e.g. after a failed call). */
  readonly invalidate: (sessionId: string) => Effect.Effect<void>
  /**
   * The session's container for the scope: a holder is registered on its lease in the pool, and removed when
   * the scope closes. The lease ends when its last holder leaves, unless plain `getContainer` uses it too.
   */
  readonly acquire: (sessionId: string) => Effect.Effect<ContainerStub<C>, WarmPoolError, Scope.Scope>
  /**
   * Sends `request` to the session's container, holding the session's lease (as `acquire` does) until the
   * response body has been fully sent, cancelled or has failed; at once for a response without a body.
   */
  readonly fetch: (
    sessionId: string,
    request: Request
  ) => Effect.Effect<Response, WarmPoolError | ContainerRequestFailed | ContainerFenced>
  readonly release: (sessionId: string) => Effect.Effect<ReleaseResult, WarmPoolError>
  readonly stats: Effect.Effect<PoolStats, WarmPoolError>
  /** A page of the pool's containers: `limit` (1 to 500, default 50) after `cursor` (an earlier page's `nextCursor`). */
  readonly inspect: (options?: InspectOptions) => Effect.Effect<InspectResult, WarmPoolError>
  /** Starts up to `count` more warm containers (default: up to `minContainers`); resolves once they are warm. */
  readonly warmup: (count?: number) => Effect.Effect<WarmupResult, WarmPoolError>
  readonly shutdown: Effect.Effect<ShutdownResult, WarmPoolError>
}

/** Keeps the request alive until `promise` settles, where the runtime offers `waitUntil`. */
const keepRequestAlive = (promise: Promise<unknown>): void => {
  const waitUntil = (workers as { readonly waitUntil?: (promise: Promise<unknown>) => void }).waitUntil
  try {
    waitUntil?.(promise)
  } catch {
    // Outside a request there is nothing to keep alive; the fiber runs on regardless.
  }
}

/**
 * Builds a client. `poolNamespace` is the `WarmPool` binding; `containerNamespace` is the
 * binding of the user's `Container` class, the same one the pool reaches as `config.containerBinding`.
 * `stickyCache` defaults to the isolate's cache for this pool; pass `StickyCache.make()` for a private one.
 */
export const make = <C extends Rpc.DurableObjectBranded | undefined = undefined>(
  poolNamespace: DurableObjectNamespace<any>,
  containerNamespace: DurableObjectNamespace<C>,
  options?: WarmPoolOptions,
  stickyCache?: StickyCache
): Effect.Effect<WarmPoolClientService<C>, InvalidConfig> =>
  Effect.map(decodeConfig(options), (config) => {
    // Stubs are made per call: a stub is tied to the request that created it.
    const pools = poolNamespace as DurableObjectNamespace
    const containers = containerNamespace as unknown as DurableObjectNamespace
    const pool = () => pools.get(pools.idFromName(config.name)) as unknown as WarmPoolRpc
    const call = <A, I>(method: Method<any, any, A, I>, body: (pool: WarmPoolRpc) => Promise<unknown>) =>
      callPool(method, () => body(pool()))
    // A fenced lease's stub sends its token with every request (see `PooledContainer`).
    const stubOf = ({ container, fence }: { readonly container: string; readonly fence?: number | undefined }) => {
      const stub = containers.get(containers.idFromString(container)) as unknown as ContainerStub<C>
      return fence === undefined ? stub : fencedStub(stub, fence)
    }

    /** Each operation is a span naming the pool; a session id only when the caller opted in (`traceSessionIds`). */
    const span = (name: string, sessionId?: string) =>
      Effect.withSpan(`WarmPoolClient.${name}`, {
        attributes: sessionId !== undefined && config.traceSessionIds
          ? { [attributes.pool]: config.name, [attributes.session]: sessionId }
          : { [attributes.pool]: config.name }
      })

    const cacheSize = config.stickyCacheSize
    const cache = stickyCache ?? StickyCaches.ofIsolate(poolNamespace, config.name)

    /** Caches a grant, timed from `sentAt`: the pool granted later, so the entry lapses first. */
    const remember = (id: string, grant: Grant, sentAt: number) => {
      if (cacheSize === 0 || grant.cacheForMs <= 0) return cache.delete(id)
      cache.set(id, {
        container: grant.container,
        ...(grant.fence === undefined ? {} : { fence: grant.fence }),
        validUntil: sentAt + grant.cacheForMs,
        renewAfter: sentAt + Math.floor(grant.cacheForMs / 2),
        renewing: false
      }, cacheSize)
    }

    /** Slides the lease of a cached entry; the entry is updated only if the cache still holds it. */
    const renewal = (id: string, entry: StickyCaches.CacheEntry) =>
      Effect.gen(function*() {
        const sentAt = yield* Clock.currentTimeMillis
        const grant = yield* call(methods.renewLease, (p) => p.renewLease(id, config))
        if (cache.peek(id) !== entry) return
        if (grant === null) cache.delete(id)
        else remember(id, grant, sentAt)
      }).pipe(
        Effect.ensuring(Effect.sync(() => void (entry.renewing = false))),
        span("renewLease", id),
        Effect.ignore
      )

    const inBackground = (effect: Effect.Effect<void>) =>
      Effect.flatMap(Effect.forkDaemon(effect), (fiber) =>
        Effect.sync(() => keepRequestAlive(Effect.runPromise(Fiber.join(fiber)))))

    const fromCache = (id: string) =>
      Effect.gen(function*() {
        if (cacheSize === 0) return undefined
        const at = yield* Clock.currentTimeMillis
        const entry = cache.get(id, at)
        cache.record(entry === undefined ? "miss" : "hit")
        yield* Effect.annotateCurrentSpan(attributes.outcome, entry === undefined ? "cache-miss" : "cache-hit")
        if (entry === undefined) return undefined
        if (at >= entry.renewAfter && !entry.renewing) {
          entry.renewing = true
          cache.record("renewal")
          yield* inBackground(renewal(id, entry))
        }
        return entry
      })

    const fromPool = (id: string) =>
      Effect.gen(function*() {
        const sentAt = yield* Clock.currentTimeMillis
        const grant = yield* call(methods.getContainer, (p) => p.getContainer(id, config))
        remember(id, grant, sentAt)
        return grant
      })

    const getContainer = (sessionId: string) =>
      validateSessionId(sessionId).pipe(
        Effect.flatMap((id) =>
          Effect.flatMap(fromCache(id), (cached): Effect.Effect<StickyCaches.CacheEntry | Grant, WarmPoolError> =>
            cached === undefined ? fromPool(id) : Effect.succeed(cached))
        ),
        Effect.tap((found) => Effect.annotateCurrentSpan(attributes.container, found.container)),
        Effect.map(stubOf),
        span("getContainer", sessionId)
      )
    const invalidate = (sessionId: string) => Effect.sync(() => cache.delete(sessionId))
    const release = (sessionId: string) =>
      Effect.flatMap(
        validateSessionId(sessionId),
        // Evicted before and after: a grant racing with the release must not stay cached.
        (id) =>
          invalidate(id).pipe(
            Effect.zipRight(call(methods.releaseContainer, (p) => p.releaseContainer(id, config))),
            Effect.ensuring(invalidate(id))
          )
      ).pipe(span("release", sessionId))
    /** The last holder out ended the lease: this isolate's entry, if any, names a container gone by now. */
    const dropHold = (id: string, holder: string) =>
      call(methods.releaseHold, (p) => p.releaseHold(id, holder, config)).pipe(
        Effect.flatMap(({ outcome }) => outcome === "warm" || outcome === "stopped" ? invalidate(id) : Effect.void),
        Effect.ignore
      )
    // Holds bypass the sticky cache: the pool must count each one, and a hold's stub is never cached.
    const acquire = (sessionId: string) =>
      Effect.flatMap(validateSessionId(sessionId), (id) => {
        const holder = newHolderId()
        return Effect.acquireRelease(
          call(methods.hold, (p) => p.hold(id, holder, config)),
          () => dropHold(id, holder)
        ).pipe(
          Effect.tap(() => keepHolding(call(methods.renewHold, (p) => p.renewHold(id, holder, config)), holdRenewalMs(config))),
          Effect.map(stubOf)
        )
      }).pipe(span("acquire", sessionId))
    const sessionFetch = makeSessionFetch({
      holdStub: acquire,
      invalidate,
      inBackground: (effect) => keepRequestAlive(Effect.runPromise(effect))
    })
    return {
      config,
      getContainer,
      invalidate,
      acquire,
      fetch: (sessionId, request) => sessionFetch(sessionId, request).pipe(span("fetch", sessionId)),
      release,
      stats: call(methods.stats, (p) => p.stats(config)).pipe(span("stats")),
      inspect: (options) =>
        Effect.zipRight(validateInspectOptions(options), call(methods.inspect, (p) => p.inspect(options, config))).pipe(
          span("inspect")
        ),
      warmup: (count) =>
        Effect.flatMap(validateWarmupCount(count), (n) => call(methods.warmup, (p) => p.warmup(n, config))).pipe(
          span("warmup")
        ),
      shutdown: call(methods.shutdown, (p) => p.shutdown(config)).pipe(span("shutdown"))
    }
  })

export class WarmPoolClient extends Context.Tag("cf-container-warm-pool/WarmPoolClient")<
  WarmPoolClient,
  WarmPoolClientService
>() {
  static readonly make = make
  /** The client as a Layer; fails with `InvalidConfig` when the options are bad. */
  static readonly layer = (
    poolNamespace: DurableObjectNamespace<any>,
    containerNamespace: DurableObjectNamespace<any>,
    options?: WarmPoolOptions,
    stickyCache?: StickyCache
  ): Layer.Layer<WarmPoolClient, InvalidConfig> =>
    Layer.effect(WarmPoolClient, make(poolNamespace, containerNamespace, options, stickyCache))
}
