/**
 * The Promise API from the README: a thin adapter over `WarmPoolClient`.
 * Failures reject with the typed error itself (an `Error` with `_tag`), never a FiberFailure.
 */
import type { WarmPoolOptions } from "./Config.js"
import type { InspectOptions, InspectResult } from "./Inspect.js"
import { runAsPromise, runSyncOrThrow } from "./internal/promise.js"
import type { PoolStats, ReleaseResult, ShutdownResult, WarmupResult } from "./Protocol.js"
import type { StickyCache } from "./StickyCache.js"
import type { ContainerStub, WarmPoolClientService } from "./WarmPoolClient.js"
import { make } from "./WarmPoolClient.js"

export interface WarmPoolHandle<C extends Rpc.DurableObjectBranded | undefined = undefined> {
  getContainer(sessionId: string): Promise<ContainerStub<C>>
  /**
   * Sends `request` to the session's container, holding the session's lease until the response body has
   * been fully sent or cancelled. Rejects with a `WarmPoolError`, or `ContainerRequestFailed` when the
   * container's stub threw.
   */
  fetch(sessionId: string, request: Request): Promise<Response>
  /** Drops this isolate's cached entry for `sessionId`, so its next call asks the pool. */
  invalidate(sessionId: string): void
  releaseContainer(sessionId: string): Promise<ReleaseResult>
  stats(): Promise<PoolStats>
  /** A page of the pool's containers (see `WarmPoolClientService.inspect`). */
  inspect(options?: InspectOptions): Promise<InspectResult>
  warmup(count?: number): Promise<WarmupResult>
  shutdown(): Promise<ShutdownResult>
}

/**
 * Creates a handle on a warm pool. Throws `InvalidConfig` at once when the options are bad.
 * Cheap enough to call per request: handles in one isolate share its sticky cache.
 */
export const createWarmPool = <C extends Rpc.DurableObjectBranded | undefined = undefined>(
  poolNamespace: DurableObjectNamespace<any>,
  containerNamespace: DurableObjectNamespace<C>,
  options?: WarmPoolOptions,
  stickyCache?: StickyCache
): WarmPoolHandle<C> => {
  const client: WarmPoolClientService<C> = runSyncOrThrow(make<C>(poolNamespace, containerNamespace, options, stickyCache))
  return {
    getContainer: (sessionId) => runAsPromise(client.getContainer(sessionId)),
    fetch: (sessionId, request) => runAsPromise(client.fetch(sessionId, request)),
    invalidate: (sessionId) => runSyncOrThrow(client.invalidate(sessionId)),
    releaseContainer: (sessionId) => runAsPromise(client.release(sessionId)),
    stats: () => runAsPromise(client.stats),
    inspect: (options) => runAsPromise(client.inspect(options)),
    warmup: (count) => runAsPromise(client.warmup(count)),
    shutdown: () => runAsPromise(client.shutdown)
  }
}
