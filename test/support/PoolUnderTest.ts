/**
 * The pool's services as a client sees them through the Durable Object: each call adopts the
 * caller's config first (`forCaller`), exactly as `WarmPool` does, so unit tests drive the same
 * path as production, over the real SQLite store (sql.js), a memory alarm and fake containers.
 */
import type { Context } from "effect"
import { Effect, Layer } from "effect"
import type { WarmPoolConfig } from "../../src/Config.js"
import type { ContainerDriver } from "../../src/internal/ContainerDriver.js"
import { Engine, forCaller } from "../../src/internal/Engine.js"
import { storageAsUnavailable } from "../../src/internal/errors.js"
import * as layers from "../../src/internal/layers.js"
import { Maintenance } from "../../src/internal/Maintenance.js"
import type { PoolAlarm } from "../../src/internal/PoolAlarm.js"
import type { PoolRecord, PoolStore } from "../../src/internal/PoolStore.js"
import type { PoolSettings } from "../../src/internal/PoolSettings.js"

type Services = Layer.Layer.Success<typeof layers.pool>

/** The pool's operations, each with the caller's config, as the Durable Object runs them. */
export const poolUnderTest = <S extends Services>(context: Context.Context<S>) => {
  const run = <A, E>(effect: Effect.Effect<A, E, Services>) =>
    storageAsUnavailable(Effect.provide(effect, context as Context.Context<Services>))
  const engine = (config: WarmPoolConfig) => <A, E>(body: (e: Engine["Type"], grantMs: number) => Effect.Effect<A, E>) =>
    run(forCaller(config, body))
  return {
    getContainer: (sessionId: string, config: WarmPoolConfig) =>
      engine(config)((e, grantMs) => e.getContainer(sessionId, grantMs)),
    renew: (sessionId: string, config: WarmPoolConfig) => engine(config)((e, grantMs) => e.renewLease(sessionId, grantMs)),
    release: (sessionId: string, config: WarmPoolConfig) => engine(config)((e) => e.release(sessionId)),
    hold: (sessionId: string, holder: string, config: WarmPoolConfig) => engine(config)((e) => e.hold(sessionId, holder)),
    renewHold: (sessionId: string, holder: string, config: WarmPoolConfig) =>
      engine(config)((e) => e.renewHold(sessionId, holder)),
    releaseHold: (sessionId: string, holder: string, config: WarmPoolConfig) =>
      engine(config)((e) => e.releaseHold(sessionId, holder)),
    stats: (config: WarmPoolConfig) => engine(config)((e) => e.stats),
    inspect: (limit: number, cursor: string | null, config: WarmPoolConfig) =>
      engine(config)((e) => e.inspect(limit, cursor)),
    warmup: (count: number | undefined, config: WarmPoolConfig) => engine(config)((e) => e.warmup(count)),
    shutdown: (config: WarmPoolConfig) => engine(config)((e) => e.shutdown),
    containerStopped: (reference: string) => run(Effect.flatMap(Engine, (e) => e.containerStopped(reference))),
    tick: run(Effect.flatMap(Maintenance, (m) => m.tick)),
    settled: run(Effect.flatMap(Engine, (e) => e.settled))
  }
}

export type PoolUnderTest = ReturnType<typeof poolUnderTest>

/** Builds the pool's services over the given store, record, driver and alarm, in the current scope. */
export const buildPool = (
  base: Layer.Layer<PoolStore | PoolRecord | ContainerDriver | PoolAlarm, unknown>
) => Layer.build(layers.pool.pipe(Layer.provideMerge(base)))

export type { PoolSettings }
