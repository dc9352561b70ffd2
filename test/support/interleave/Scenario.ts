/**
 * What the interleaving model test generates: a pool config and a few actors, each a short script
 * of calls and events. The actors run at once; `fc.scheduler()` decides the order in which their
 * steps, and the container (and storage) calls under them, go ahead.
 */
import { FastCheck as fc } from "effect"
import type { WarmPoolConfig } from "../../../src/Config.js"
import { config as makeConfig } from "../FakeContainers.js"

export const ids = ["a", "b", "c"] as const

/** Which calls of one container never answer from now on. */
export type HungCalls = "destroy" | "status" | "keepAlive" | "revoke" | "all"

export type Action =
  /** A plain `getContainer`: the id keeps its sliding lease. */
  | { readonly _tag: "get"; readonly id: string }
  /** A scoped acquire: `getContainer`, use it for `holdMs`, then release as the scope closes. */
  | { readonly _tag: "scope"; readonly id: string; readonly holdMs: number }
  | { readonly _tag: "release"; readonly id: string }
  /** The alarm fires now (if armed), unless a tick is already running. */
  | { readonly _tag: "tick" }
  | { readonly _tag: "shutdown" }
  /** A running container dies (the `pick`th, by name); `notify` sends its stop notice. */
  | { readonly _tag: "crash"; readonly pick: number; readonly notify: boolean }
  /** A running container stops answering some calls, for good: the pool relies on its bounds. */
  | { readonly _tag: "hang"; readonly pick: number; readonly calls: HungCalls }
  /** The next container start never answers. */
  | { readonly _tag: "hangStart" }
  /** The Durable Object resets: calls in flight never return, a new instance boots. */
  | { readonly _tag: "restart" }
  /** The actor waits; time moves only when every fiber waits on it. */
  | { readonly _tag: "pause"; readonly ms: number }
  /**
   * Time passes while other work is under way (storage, CPU elsewhere), so deadlines can fall mid-call;
   * "deadline" moves it exactly to the earliest lease deadline ahead.
   */
  | { readonly _tag: "busy"; readonly ms: number | "deadline" }

export interface Scenario {
  readonly config: WarmPoolConfig
  readonly startDelayMs: number
  /** Storage calls are scheduling points too (an Effect fiber may yield between any two). */
  readonly gateStorage: boolean
  readonly seed: number
  readonly actors: ReadonlyArray<ReadonlyArray<Action>>
}

const id = fc.constantFrom(...ids)

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 20, arbitrary: id.map((id) => ({ _tag: "get" as const, id })) },
  {
    weight: 20,
    arbitrary: fc.record({ id, holdMs: fc.constantFrom(0, 100, 1_000, 5_000) }).map((r) => ({ _tag: "scope" as const, ...r }))
  },
  { weight: 8, arbitrary: id.map((id) => ({ _tag: "release" as const, id })) },
  { weight: 8, arbitrary: fc.constant({ _tag: "tick" as const }) },
  { weight: 5, arbitrary: fc.constant({ _tag: "shutdown" as const }) },
  { weight: 5, arbitrary: fc.record({ pick: fc.nat(5), notify: fc.boolean() }).map((r) => ({ _tag: "crash" as const, ...r })) },
  {
    weight: 4,
    arbitrary: fc.record({ pick: fc.nat(5), calls: fc.constantFrom<HungCalls>("destroy", "status", "keepAlive", "revoke", "all") })
      .map((r) => ({ _tag: "hang" as const, ...r }))
  },
  { weight: 2, arbitrary: fc.constant({ _tag: "hangStart" as const }) },
  { weight: 3, arbitrary: fc.constant({ _tag: "restart" as const }) },
  { weight: 6, arbitrary: fc.constantFrom(100, 1_000, 4_000).map((ms) => ({ _tag: "pause" as const, ms })) },
  {
    weight: 4,
    arbitrary: fc.constantFrom<number | "deadline">(1, 50, 500, "deadline").map((ms) => ({ _tag: "busy" as const, ms }))
  }
)

export const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  maxContainers: fc.integer({ min: 1, max: 3 }),
  minFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  acquireTimeout: fc.constantFrom(3_000, 10_000, 60_000),
  healthCheckInterval: fc.constantFrom(1_000, 5_000),
  startupTimeout: fc.constantFrom(500, 3_000),
  startRetries: fc.integer({ min: 0, max: 2 }),
  // Without a cache, a release can return a container to the warm set, and another id can get it.
  cache: fc.boolean(),
  startDelayMs: fc.constantFrom(0, 100),
  gateStorage: fc.boolean(),
  seed: fc.nat(),
  actors: fc.array(fc.array(action, { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 5 })
}).map((r) => ({
  config: makeConfig({
    maxContainers: r.maxContainers,
    minContainers: Math.min(r.maxContainers, Math.floor(r.minFraction * (r.maxContainers + 1))),
    acquireTimeout: r.acquireTimeout,
    healthCheckInterval: r.healthCheckInterval,
    startupTimeout: r.startupTimeout,
    startRetries: r.startRetries,
    ...(r.cache ? {} : { stickyCacheSize: 0 })
  }),
  startDelayMs: r.startDelayMs,
  gateStorage: r.gateStorage,
  seed: r.seed,
  actors: r.actors
}))
