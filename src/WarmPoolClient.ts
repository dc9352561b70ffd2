/**
 * The Effect client: a `WarmPoolClient` service over the `WarmPool` Durable Object.
 * It validates inputs locally, calls the pool over RPC, and turns container names
 * into stubs, so traffic goes straight to the container, never through the pool.
 */
import type { Scope } from "effect"
import { Context, Effect, Layer } from "effect"
import type { WarmPoolConfig, WarmPoolOptions } from "./Config.js"
import { decodeConfig, MAX_CONTAINERS } from "./Config.js"
import type { InvalidConfig, WarmPoolError } from "./Errors.js"
import { InvalidArgument, PoolUnavailable } from "./Errors.js"
import { fromRpcResult } from "./Rpc.js"
import { validateSessionId } from "./SessionId.js"
import type { PoolStats, ReleaseResult, ShutdownResult, WarmupResult } from "./Slot.js"

/** A stub of the user's container Durable Object. */
export type ContainerStub<C extends Rpc.DurableObjectBranded | undefined = undefined> = DurableObjectStub<C>

export interface WarmPoolClientService<C extends Rpc.DurableObjectBranded | undefined = undefined> {
  readonly config: WarmPoolConfig
  /** The container leased to `sessionId`; each call slides the lease's expiry. */
  readonly getContainer: (sessionId: string) => Effect.Effect<ContainerStub<C>, WarmPoolError>
  /** Like `getContainer`, releasing the lease when the scope closes. */
  readonly acquire: (sessionId: string) => Effect.Effect<ContainerStub<C>, WarmPoolError, Scope.Scope>
  readonly release: (sessionId: string) => Effect.Effect<ReleaseResult, WarmPoolError>
  readonly stats: Effect.Effect<PoolStats, WarmPoolError>
  /** Starts up to `count` more warm containers (default: up to `minContainers`); resolves once they are warm. */
  readonly warmup: (count?: number) => Effect.Effect<WarmupResult, WarmPoolError>
  readonly shutdown: Effect.Effect<ShutdownResult, WarmPoolError>
}

/** The pool's RPC methods as the client calls them; results are checked, not trusted. */
interface WarmPoolRpc {
  getContainer(sessionId: string, options: WarmPoolConfig): Promise<unknown>
  releaseContainer(sessionId: string, options: WarmPoolConfig): Promise<unknown>
  stats(options: WarmPoolConfig): Promise<unknown>
  warmup(count: number | undefined, options: WarmPoolConfig): Promise<unknown>
  shutdown(options: WarmPoolConfig): Promise<unknown>
}

const reasonOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const validateCount = (count: number | undefined): Effect.Effect<number | undefined, InvalidArgument> =>
  count === undefined || (Number.isSafeInteger(count) && count >= 0 && count <= MAX_CONTAINERS)
    ? Effect.succeed(count)
    : Effect.fail(
      new InvalidArgument({ method: "warmup", argument: "count", reason: `must be an integer from 0 to ${MAX_CONTAINERS}` })
    )

/**
 * Builds a client. `poolNamespace` is the `WarmPool` binding; `containerNamespace` is the
 * binding of the user's `Container` class, the same one the pool reaches as `config.containerBinding`.
 */
export const make = <C extends Rpc.DurableObjectBranded | undefined = undefined>(
  poolNamespace: DurableObjectNamespace<any>,
  containerNamespace: DurableObjectNamespace<C>,
  options?: WarmPoolOptions
): Effect.Effect<WarmPoolClientService<C>, InvalidConfig> =>
  Effect.map(decodeConfig(options), (config) => {
    // Stubs are made per call: a stub is tied to the request that created it.
    const pools = poolNamespace as DurableObjectNamespace
    const containers = containerNamespace as unknown as DurableObjectNamespace
    const pool = () => pools.get(pools.idFromName(config.name)) as unknown as WarmPoolRpc
    const call = <A>(method: string, body: (pool: WarmPoolRpc) => Promise<unknown>) =>
      Effect.tryPromise({
        try: () => body(pool()),
        catch: (cause) => new PoolUnavailable({ reason: `${method} failed: ${reasonOf(cause)}` })
      }).pipe(Effect.flatMap((result) => fromRpcResult<A>(result)))
    const stubOf = (container: string) =>
      containers.get(containers.idFromName(container)) as unknown as ContainerStub<C>

    const getContainer = (sessionId: string) =>
      validateSessionId(sessionId).pipe(
        Effect.flatMap((id) => call<string>("getContainer", (p) => p.getContainer(id, config))),
        Effect.map(stubOf)
      )
    const release = (sessionId: string) =>
      Effect.flatMap(
        validateSessionId(sessionId),
        (id) => call<ReleaseResult>("releaseContainer", (p) => p.releaseContainer(id, config))
      )
    return {
      config,
      getContainer,
      acquire: (sessionId) => Effect.acquireRelease(getContainer(sessionId), () => Effect.ignore(release(sessionId))),
      release,
      stats: call<PoolStats>("stats", (p) => p.stats(config)),
      warmup: (count) =>
        Effect.flatMap(validateCount(count), (n) => call<WarmupResult>("warmup", (p) => p.warmup(n, config))),
      shutdown: call<ShutdownResult>("shutdown", (p) => p.shutdown(config))
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
    options?: WarmPoolOptions
  ): Layer.Layer<WarmPoolClient, InvalidConfig> =>
    Layer.effect(WarmPoolClient, make(poolNamespace, containerNamespace, options))
}
