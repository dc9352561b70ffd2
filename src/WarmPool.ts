/**
 * The `WarmPool` Durable Object. Users re-export it from their Worker. It runs one engine per
 * instance over its SQLite storage, its alarm and the container bindings of its env. Any Worker
 * holding the binding can call it, so every method decodes its arguments (see `Protocol`),
 * runs the engine, and encodes the answer.
 */
import { DurableObject } from "cloudflare:workers"
import { Cause, Effect, Exit, Layer, ManagedRuntime } from "effect"
import type { WarmPoolError } from "./Errors.js"
import { Engine, forCaller } from "./internal/Engine.js"
import { type StorageError, storageAsUnavailable } from "./internal/errors.js"
import * as layers from "./internal/layers.js"
import { Maintenance } from "./internal/Maintenance.js"
import { PoolSettings } from "./internal/PoolSettings.js"
import { testHooks, type TestHooks } from "./internal/testHooks.js"
import type { Envelope, Method, WarmPoolRpc } from "./Protocol.js"
import { answer, methods } from "./Protocol.js"

type Services = Engine | Maintenance | PoolSettings

const unavailable = (reason: string): Envelope => ({
  ok: false,
  error: { _tag: "PoolUnavailable", reason }
})

export class WarmPool extends DurableObject implements WarmPoolRpc {
  readonly #runtime: ManagedRuntime.ManagedRuntime<Services, StorageError>

  constructor(ctx: DurableObjectState, env: object) {
    super(ctx, env)
    const telemetry = (this.constructor as typeof WarmPool).telemetry(env)
    this.#runtime = ManagedRuntime.make(Layer.provideMerge(layers.durableObject(ctx.storage, env), telemetry))
  }

  /**
   * Where the pool's spans and logs go. Override it in a subclass to export them, e.g. with an
   * `@effect/opentelemetry` layer; the default keeps Effect's own (spans go nowhere). Static, so no
   * RPC caller can reach it.
   */
  static telemetry(_env: object): Layer.Layer<never> {
    return Layer.empty
  }

  /** Decodes the arguments, runs the program and encodes its answer; storage failures and defects become `PoolUnavailable`. */
  #serve<P, A, I>(
    method: Method<any, P, A, I>,
    args: ReadonlyArray<unknown>,
    program: (payload: P) => Effect.Effect<A, WarmPoolError | StorageError, Services>
  ): Promise<Envelope> {
    const served = storageAsUnavailable(Effect.flatMap(method.decode(args as any), program))
    return this.#runtime.runPromiseExit(answer(method, served)).then((exit) =>
      Exit.isSuccess(exit)
        ? exit.value
        : unavailable(`the pool failed unexpectedly: ${Cause.pretty(exit.cause).split("\n")[0]}`)
    )
  }

  getContainer(...args: Parameters<WarmPoolRpc["getContainer"]>): Promise<Envelope> {
    return this.#serve(methods.getContainer, args, ({ config, sessionId }) =>
      forCaller(config, (engine, grantMs) =>
        Effect.flatMap(engine.getContainer(sessionId, grantMs), (container) => engine.grant(sessionId, container, grantMs))))
  }

  renewLease(...args: Parameters<WarmPoolRpc["renewLease"]>): Promise<Envelope> {
    return this.#serve(methods.renewLease, args, ({ config, sessionId }) =>
      forCaller(config, (engine, grantMs) =>
        Effect.flatMap(
          engine.renewLease(sessionId, grantMs),
          (container) => container === undefined ? Effect.succeed(null) : engine.grant(sessionId, container, grantMs)
        )))
  }

  releaseContainer(...args: Parameters<WarmPoolRpc["releaseContainer"]>): Promise<Envelope> {
    return this.#serve(methods.releaseContainer, args, ({ config, sessionId }) =>
      forCaller(config, (engine) => engine.release(sessionId)))
  }

  hold(...args: Parameters<WarmPoolRpc["hold"]>): Promise<Envelope> {
    return this.#serve(methods.hold, args, ({ config, holderId, sessionId }) =>
      forCaller(config, (engine) =>
        Effect.flatMap(engine.hold(sessionId, holderId), (container) =>
          Effect.map(engine.grant(sessionId, container, 0), ({ cacheForMs: _, ...held }) => held))))
  }

  renewHold(...args: Parameters<WarmPoolRpc["renewHold"]>): Promise<Envelope> {
    return this.#serve(methods.renewHold, args, ({ config, holderId, sessionId }) =>
      forCaller(config, (engine) => engine.renewHold(sessionId, holderId)))
  }

  releaseHold(...args: Parameters<WarmPoolRpc["releaseHold"]>): Promise<Envelope> {
    return this.#serve(methods.releaseHold, args, ({ config, holderId, sessionId }) =>
      forCaller(config, (engine) => engine.releaseHold(sessionId, holderId)))
  }

  stats(...args: Parameters<WarmPoolRpc["stats"]>): Promise<Envelope> {
    return this.#serve(methods.stats, args, ({ config }) => forCaller(config, (engine) => engine.stats))
  }

  warmup(...args: Parameters<WarmPoolRpc["warmup"]>): Promise<Envelope> {
    return this.#serve(methods.warmup, args, ({ config, count }) =>
      forCaller(config, (engine) => engine.warmup(count)))
  }

  shutdown(...args: Parameters<WarmPoolRpc["shutdown"]>): Promise<Envelope> {
    return this.#serve(methods.shutdown, args, ({ config }) => forCaller(config, (engine) => engine.shutdown))
  }

  inspect(...args: Parameters<WarmPoolRpc["inspect"]>): Promise<Envelope> {
    return this.#serve(methods.inspect, args, ({ config, cursor, limit }) =>
      forCaller(config, (engine) => engine.inspect(limit, cursor)))
  }

  /** Called by a container's `onStop` (see `notifyContainerStopped`): drops its slot at once. */
  containerStopped(...args: Parameters<WarmPoolRpc["containerStopped"]>): Promise<Envelope> {
    return this.#serve(methods.containerStopped, args, (container) =>
      Effect.flatMap(Engine, (engine) => engine.containerStopped(container)))
  }

  /** The health alarm: never throws, and re-arms unless the pool is idle or shut down. */
  override async alarm(): Promise<void> {
    await this.#runtime.runPromise(Effect.flatMap(Maintenance, (maintenance) => maintenance.tick))
  }

  /** Hooks for tests, under a symbol: RPC reaches only string-named methods. */
  get [testHooks](): TestHooks {
    const run = <A>(effect: Effect.Effect<A, unknown, Services>) => this.#runtime.runPromise(effect)
    return {
      tick: () => run(Effect.flatMap(Maintenance, (maintenance) => maintenance.tick)),
      settled: () => run(Effect.flatMap(Engine, (engine) => engine.settled))
    }
  }
}
