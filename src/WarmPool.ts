/**
 * The `WarmPool` Durable Object. Users re-export it from their Worker. It runs one
 * engine per instance, over its SQLite storage, its alarm and the container binding
 * of its env. Any Worker holding the binding can call it, so it validates every argument.
 */
import { DurableObject } from "cloudflare:workers"
import { Effect, Layer, ManagedRuntime } from "effect"
import type { WarmPoolConfig } from "./Config.js"
import { validateContainerReference, validateWarmupCount } from "./Arguments.js"
import { decodeRpcConfig } from "./Config.js"
import { ContainerDriver } from "./ContainerDriver.js"
import type { WarmPoolError } from "./Errors.js"
import { PoolAlarm } from "./PoolAlarm.js"
import type { RpcResult } from "./Rpc.js"
import { toRpcResult } from "./Rpc.js"
import { validateSessionId } from "./SessionId.js"
import type { Grant, PoolStats, ReleaseResult, ShutdownResult, WarmupResult } from "./Slot.js"
import { cacheGrantMs } from "./Slot.js"
import * as SqlitePoolStore from "./SqlitePoolStore.js"
import type { TickReport, WarmPoolEngineService } from "./WarmPoolEngine.js"
import { WarmPoolEngine } from "./WarmPoolEngine.js"

const grantOf = (container: string, config: WarmPoolConfig): Grant => ({ container, cacheForMs: cacheGrantMs(config) })

export class WarmPool extends DurableObject {
  readonly #runtime: ManagedRuntime.ManagedRuntime<WarmPoolEngine, never>

  constructor(ctx: DurableObjectState, env: object) {
    super(ctx, env)
    this.#runtime = ManagedRuntime.make(
      WarmPoolEngine.layer.pipe(
        Layer.provide(
          Layer.mergeAll(SqlitePoolStore.layer(ctx.storage), ContainerDriver.layer(env), PoolAlarm.layer(ctx.storage))
        )
      )
    )
  }

  #run<A>(program: (engine: WarmPoolEngineService) => Effect.Effect<A, WarmPoolError>): Promise<RpcResult<A>> {
    return this.#runtime.runPromise(toRpcResult(Effect.flatMap(WarmPoolEngine, program)))
  }

  /**
   * The name of the container leased to `sessionId`, and how long the caller may serve the
   * session from its sticky cache; the client turns the name into a stub.
   */
  getContainer(sessionId: unknown, options: unknown): Promise<RpcResult<Grant>> {
    return this.#run((engine) =>
      Effect.flatMap(
        Effect.all([validateSessionId(sessionId), decodeRpcConfig(options)]),
        ([id, config]) => Effect.map(engine.getContainer(id, config), (container) => grantOf(container, config))
      )
    )
  }

  /** Slides a live lease like `getContainer`, but never assigns a container: null when there is no live lease. */
  renewLease(sessionId: unknown, options: unknown): Promise<RpcResult<Grant | null>> {
    return this.#run((engine) =>
      Effect.flatMap(
        Effect.all([validateSessionId(sessionId), decodeRpcConfig(options)]),
        ([id, config]) =>
          Effect.map(engine.renew(id, config), (container) => container === undefined ? null : grantOf(container, config))
      )
    )
  }

  releaseContainer(sessionId: unknown, options: unknown): Promise<RpcResult<ReleaseResult>> {
    return this.#run((engine) =>
      Effect.flatMap(
        Effect.all([validateSessionId(sessionId), decodeRpcConfig(options)]),
        ([id, config]) => engine.release(id, config)
      )
    )
  }

  stats(options: unknown): Promise<RpcResult<PoolStats>> {
    return this.#run((engine) => Effect.flatMap(decodeRpcConfig(options), engine.stats))
  }

  warmup(count: unknown, options: unknown): Promise<RpcResult<WarmupResult>> {
    return this.#run((engine) =>
      Effect.flatMap(
        Effect.all([validateWarmupCount(count), decodeRpcConfig(options)]),
        ([n, config]) => engine.warmup(n, config)
      )
    )
  }

  shutdown(options?: unknown): Promise<RpcResult<ShutdownResult>> {
    return this.#run((engine) =>
      Effect.flatMap(options === undefined ? Effect.succeed(undefined) : decodeRpcConfig(options), engine.shutdown)
    )
  }

  /** Called by a container's `onStop` (see `notifyContainerStopped`): drops its slot at once. */
  containerStopped(container: unknown): Promise<RpcResult<boolean>> {
    return this.#run((engine) => Effect.flatMap(validateContainerReference(container), engine.containerStopped))
  }

  /** Resolves when background refills and stops have finished. For tests and graceful hand-offs. */
  settled(): Promise<void> {
    return this.#runtime.runPromise(Effect.flatMap(WarmPoolEngine, (engine) => engine.settled))
  }

  /** The health alarm: never throws, and always re-arms unless the pool is idle or shut down. */
  override async alarm(): Promise<void> {
    await this.tick()
  }

  /** Runs one alarm tick now and reports what it did. */
  tick(): Promise<TickReport> {
    return this.#runtime.runPromise(Effect.flatMap(WarmPoolEngine, (engine) => engine.tick))
  }
}
