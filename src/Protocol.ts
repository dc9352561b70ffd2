/**
 * The pool's RPC protocol, defined once. Each method names its arguments, how the pool
 * decodes them (it trusts no caller), and the Schema of its success. The `WarmPool`
 * Durable Object implements `WarmPoolRpc`; the clients call it and decode every answer.
 *
 * Results cross RPC as an envelope, `{ ok: true, value }` or `{ ok: false, error }`: a thrown
 * error would lose its class and fields, so failures travel as encoded `WarmPoolError`s.
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import { MAX_CONTAINERS, WarmPoolConfig } from "./Config.js"
import { InvalidArgument, InvalidConfig, PoolUnavailable, WarmPoolError } from "./Errors.js"
import { validateHolderId } from "./HolderId.js"
import { type InspectOptions, InspectResult, validateInspectOptions } from "./Inspect.js"
import { validateSessionId } from "./SessionId.js"

const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
const Seconds = Schema.Number.pipe(Schema.nonNegative())

/** What the pool answers to `getContainer`: the container, and how long the caller may cache it. */
export const Grant = Schema.Struct({
  /** The container's name, its Durable Object id: the client makes its stub with `idFromString`. */
  container: Schema.String.pipe(Schema.minLength(1)),
  /** Ms from the caller's request during which it may serve the session from its cache. */
  cacheForMs: Count,
  /**
   * The lease's token: the client sends it with every request, and a `PooledContainer` refuses any other
   * (see `PooledContainer`). Absent from a pool of an earlier version.
   */
  fence: Schema.optional(Count)
})
export type Grant = typeof Grant.Type

/** What `stats()` reports. The first five fields are the README's contract. */
export const PoolStats = Schema.Struct({
  warm: Count,
  acquired: Count,
  /** Containers starting: refills of the warm set and cold starts for sessions. */
  warming: Count,
  /** Every container the pool holds, including those being stopped. */
  total: Count,
  config: WarmPoolConfig,
  stopping: Count,
  /** Live leases: one per acquired container. */
  sessions: Count,
  /** Failed start attempts since the pool was created. */
  startFailures: Count,
  /** New sessions since the pool was created: served from the warm set, cold-started, refused (`PoolExhausted`). */
  newSessions: Schema.Struct({ warm: Count, cold: Count, refused: Count }),
  /** Start attempts that succeeded and that failed, failures by cause. */
  starts: Schema.Struct({
    succeeded: Count,
    failed: Count,
    failedBy: Schema.Struct({ timeout: Count, platformLimit: Count, other: Count })
  }),
  /** From reservation to ready (retries included), over the last 64 starts; null before the first. */
  startTimeMs: Schema.Struct({ median: Schema.NullOr(Count), p95: Schema.NullOr(Count), samples: Count }),
  /** Container-seconds since the pool was created: warm and idle, and leased to a session. */
  containerSeconds: Schema.Struct({ warmIdle: Seconds, leased: Seconds }),
  // Demand and the start governor (optional: a pool of an earlier version does not report them).
  /** The warm set the pool keeps now: `minContainers`, or with `autoscale` the demand estimate within the bounds. */
  target: Schema.optional(Count),
  /** New sessions per second, as the warm target follows them. */
  arrivalsPerSecond: Schema.optional(Schema.Number),
  /** The start time the warm target assumes (ms): the mean of recent starts. */
  startMs: Schema.optional(Schema.Number),
  /** The instance limit learned from refused starts, or null while none was met. */
  learnedCap: Schema.optional(Schema.NullOr(Count)),
  /** The start circuit breaker. */
  breaker: Schema.optional(Schema.Struct({
    state: Schema.Literal("closed", "open", "half-open"),
    failuresInARow: Count,
    /** When an open breaker lets starts through again (epoch ms); null when closed. */
    reopensAt: Schema.NullOr(Schema.Number)
  })),
  /** Containers held of a revision older than the config's `revision`. */
  olderRevision: Schema.optional(Count)
})
export type PoolStats = typeof PoolStats.Type

/** What `releaseContainer` reports. */
export const ReleaseResult = Schema.Struct({
  /** False when the id held no lease: nothing was changed. */
  released: Schema.Boolean,
  /** Where the container went: back to the warm set, or stopped. */
  outcome: Schema.Literal("warm", "stopped", "unknown-session")
})
export type ReleaseResult = typeof ReleaseResult.Type

/** What `warmup` reports. */
export const WarmupResult = Schema.Struct({
  /** Containers started and now warm. */
  started: Count,
  warm: Count
})
export type WarmupResult = typeof WarmupResult.Type

/** What `shutdown` reports. */
export const ShutdownResult = Schema.Struct({
  /** Containers stopped. */
  stopped: Count
})
export type ShutdownResult = typeof ShutdownResult.Type

/** What `hold` answers: the container whose lease now counts the caller's holder. */
export const Held = Schema.Struct({
  container: Schema.String.pipe(Schema.minLength(1)),
  /** The lease's token, as in `Grant`. */
  fence: Schema.optional(Count)
})
export type Held = typeof Held.Type

/** What `releaseHold` reports. */
export const HoldReleased = Schema.Struct({
  /**
   * `kept`: other live holders remain, or plain `getContainer` uses the lease; `warm` or `stopped`: this was
   * the last holder and the lease ended, its container going there; `not-held`: the session's lease had no
   * such holder (it ended meanwhile, by release, expiry or a dead container, or the holder lapsed with it).
   */
  outcome: Schema.Literal("kept", "warm", "stopped", "not-held"),
  /** Live holders the lease still has. */
  holdersLeft: Count
})
export type HoldReleased = typeof HoldReleased.Type

/** The wire form of a result. */
export type Envelope =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: typeof WarmPoolError.Encoded }

/**
 * One RPC method: the arguments a client sends (`Args`), what the pool decodes them into
 * (`Payload`), and the Schema of its success.
 */
export interface Method<Args extends ReadonlyArray<unknown>, Payload, A, I> {
  readonly name: string
  /** Validates untrusted arguments on the pool's side. */
  readonly decode: (args: { readonly [K in keyof Args]: unknown }) => Effect.Effect<Payload, WarmPoolError>
  readonly success: Schema.Schema<A, I>
  /** Phantom: the arguments' types, for `WarmPoolRpc`. */
  readonly Args?: Args
}

const method = <Args extends ReadonlyArray<unknown>>() =>
<Payload, A, I>(spec: Omit<Method<Args, Payload, A, I>, "Args">): Method<Args, Payload, A, I> => spec

/**
 * A config sent over RPC. The client always sends the full config; a caller that leaves it out
 * must not get a default pool. The pool decodes it only when it differs from the one it holds.
 */
const requireConfig = (config: unknown): Effect.Effect<unknown, InvalidConfig> =>
  config === undefined
    ? Effect.fail(new InvalidConfig({ field: "config", reason: "must be an object, got undefined" }))
    : Effect.succeed(config)

/** A `warmup` count: absent, or an integer from 0 to `MAX_CONTAINERS`. */
export const validateWarmupCount = (count: unknown): Effect.Effect<number | undefined, InvalidArgument> =>
  count === undefined || (Number.isSafeInteger(count) && (count as number) >= 0 && (count as number) <= MAX_CONTAINERS)
    ? Effect.succeed(count as number | undefined)
    : Effect.fail(
      new InvalidArgument({ method: "warmup", argument: "count", reason: `must be an integer from 0 to ${MAX_CONTAINERS}` })
    )

/** What `containerStopped` names a container by: the name the pool gave it, or its Durable Object id. */
export const validateContainerReference = (container: unknown): Effect.Effect<string, InvalidArgument> =>
  typeof container === "string" && container.length > 0 && container.length <= 512
    ? Effect.succeed(container)
    : Effect.fail(
      new InvalidArgument({
        method: "containerStopped",
        argument: "container",
        reason: "must be a container name the pool generated, or a container's Durable Object id"
      })
    )

const sessionCall = <A, I>(name: string, success: Schema.Schema<A, I>) =>
  method<readonly [sessionId: string, config: WarmPoolConfig]>()({
    name,
    decode: ([sessionId, config]) =>
      Effect.map(
        Effect.all([validateSessionId(sessionId), requireConfig(config)]),
        ([id, raw]) => ({ sessionId: id, config: raw })
      ),
    success
  })

const holderCall = <A, I>(name: string, success: Schema.Schema<A, I>) =>
  method<readonly [sessionId: string, holderId: string, config: WarmPoolConfig]>()({
    name,
    decode: ([sessionId, holderId, config]) =>
      Effect.map(
        Effect.all([validateSessionId(sessionId), validateHolderId(name, holderId), requireConfig(config)]),
        ([id, holder, raw]) => ({ sessionId: id, holderId: holder, config: raw })
      ),
    success
  })

/** Every method of the pool's RPC surface. */
export const methods = {
  /** The container leased to the session, assigning one if needed, and the caller's cache grant. */
  getContainer: sessionCall("getContainer", Grant),
  /** Slides a live lease like `getContainer`, but never assigns: null when there is no live lease. */
  renewLease: sessionCall("renewLease", Schema.NullOr(Grant)),
  releaseContainer: sessionCall("releaseContainer", ReleaseResult),
  /** The session's container for one scoped use, registering `holderId` on its lease (see `holdPolicy`). */
  hold: holderCall("hold", Held),
  /** Extends a live holder by `acquireTimeout`; false when the session's lease no longer has it. */
  renewHold: holderCall("renewHold", Schema.Boolean),
  /** Removes a holder; the last live one ends a lease no plain `getContainer` uses. */
  releaseHold: holderCall("releaseHold", HoldReleased),
  stats: method<readonly [config: WarmPoolConfig]>()({
    name: "stats",
    decode: ([config]) => Effect.map(requireConfig(config), (raw) => ({ config: raw })),
    success: PoolStats
  }),
  warmup: method<readonly [count: number | undefined, config: WarmPoolConfig]>()({
    name: "warmup",
    decode: ([count, config]) =>
      Effect.map(Effect.all([validateWarmupCount(count), requireConfig(config)]), ([n, raw]) => ({ count: n, config: raw })),
    success: WarmupResult
  }),
  shutdown: method<readonly [config: WarmPoolConfig]>()({
    name: "shutdown",
    decode: ([config]) => Effect.map(requireConfig(config), (raw) => ({ config: raw })),
    success: ShutdownResult
  }),
  /** A page of the pool's containers (see `Inspect.ts`). */
  inspect: method<readonly [options: InspectOptions | undefined, config: WarmPoolConfig]>()({
    name: "inspect",
    decode: ([options, config]) =>
      Effect.map(
        Effect.all([validateInspectOptions(options), requireConfig(config)]),
        ([page, raw]) => ({ ...page, config: raw })
      ),
    success: InspectResult
  }),
  /** A container's `onStop` notice (see `notifyContainerStopped`). */
  containerStopped: method<readonly [container: string]>()({
    name: "containerStopped",
    decode: ([container]) => validateContainerReference(container),
    success: Schema.Boolean
  })
} as const

export type Methods = typeof methods

/** The pool's RPC surface, derived from `methods`: the Durable Object implements it, clients call it. */
export type WarmPoolRpc = {
  readonly [K in keyof Methods]: Methods[K] extends Method<infer Args, any, any, any>
    ? (...args: Args) => Promise<Envelope>
    : never
}

const encodeError = Schema.encodeSync(WarmPoolError)
const decodeError = Schema.decodeUnknownEither(WarmPoolError)

/** Pool side: runs a method's program and wraps its outcome; typed failures become data. */
export const answer = <A, I, R>(
  spec: Method<any, any, A, I>,
  program: Effect.Effect<A, WarmPoolError, R>
): Effect.Effect<Envelope, never, R> => {
  const encode = Schema.encode(spec.success)
  return program.pipe(
    Effect.flatMap((value) =>
      Effect.mapError(
        encode(value),
        (error) => new PoolUnavailable({ reason: `the pool could not encode its ${spec.name} answer: ${error.message}` })
      )
    ),
    Effect.map((value): Envelope => ({ ok: true, value })),
    Effect.catchAll((error) => Effect.succeed<Envelope>({ ok: false, error: encodeError(error) }))
  )
}

const Wire = Schema.Union(
  Schema.Struct({ ok: Schema.Literal(true), value: Schema.Unknown }),
  Schema.Struct({ ok: Schema.Literal(false), error: Schema.Unknown })
)
const decodeWire = Schema.decodeUnknownEither(Wire)

/**
 * Client side: the method's decoded success, or its typed error. An answer in any other shape (a pool
 * of another version, say) is a `PoolUnavailable` that says what was wrong.
 */
export const decodeAnswer = <A, I>(spec: Method<any, any, A, I>, answer: unknown): Effect.Effect<A, WarmPoolError> => {
  const unexpected = (what: string) =>
    new PoolUnavailable({ reason: `the pool answered ${spec.name} in an unexpected shape: ${what}` })
  return Either.match(decodeWire(answer), {
    onLeft: () => Effect.fail(unexpected("not a result envelope")),
    onRight: (wire) =>
      wire.ok
        ? Effect.mapError(
          Schema.decodeUnknown(spec.success)(wire.value),
          (error) => unexpected(ParseResult.TreeFormatter.formatErrorSync(error).slice(0, 300))
        )
        : Either.match(decodeError(wire.error), {
          onLeft: () => Effect.fail(unexpected("an unknown error")),
          onRight: Effect.fail
        })
  })
}

/** Client side: one call to the pool; a thrown error (unreachable, reset) becomes `PoolUnavailable`. */
export const callPool = <A, I>(
  spec: Method<any, any, A, I>,
  send: () => Promise<unknown>
): Effect.Effect<A, WarmPoolError> =>
  Effect.tryPromise({
    try: send,
    catch: (cause) =>
      new PoolUnavailable({ reason: `${spec.name} failed: ${cause instanceof Error ? cause.message : String(cause)}` })
  }).pipe(Effect.flatMap((result) => decodeAnswer(spec, result)))
