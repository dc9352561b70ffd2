/**
 * The Promise API from the README: a thin adapter over `WarmPoolClient`.
 * Failures reject with the typed error itself (an `Error` with `_tag`), never a FiberFailure.
 */
import type { Effect } from "effect"
import { Cause, Exit, Runtime } from "effect"
import type { WarmPoolOptions } from "./Config.js"
import type { PoolStats, ReleaseResult, ShutdownResult, WarmupResult } from "./Slot.js"
import type { StickyCache } from "./StickyCache.js"
import type { ContainerStub, WarmPoolClientService } from "./WarmPoolClient.js"
import { make } from "./WarmPoolClient.js"

export interface WarmPoolHandle<C extends Rpc.DurableObjectBranded | undefined = undefined> {
  getContainer(sessionId: string): Promise<ContainerStub<C>>
  /** Drops this isolate's cached entry for `sessionId`, so its next call asks the pool. */
  invalidate(sessionId: string): void
  releaseContainer(sessionId: string): Promise<ReleaseResult>
  stats(): Promise<PoolStats>
  warmup(count?: number): Promise<WarmupResult>
  shutdown(): Promise<ShutdownResult>
}

const unwrap = <A>(exit: Exit.Exit<A, unknown>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

const run = <A>(effect: Effect.Effect<A, unknown>): Promise<A> =>
  Runtime.runPromiseExit(Runtime.defaultRuntime)(effect).then(unwrap)

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
  const client: WarmPoolClientService<C> = unwrap(
    Runtime.runSyncExit(Runtime.defaultRuntime)(make<C>(poolNamespace, containerNamespace, options, stickyCache))
  )
  return {
    getContainer: (sessionId) => run(client.getContainer(sessionId)),
    invalidate: (sessionId) => Runtime.runSync(Runtime.defaultRuntime)(client.invalidate(sessionId)),
    releaseContainer: (sessionId) => run(client.release(sessionId)),
    stats: () => run(client.stats),
    warmup: (count) => run(client.warmup(count)),
    shutdown: () => run(client.shutdown)
  }
}
