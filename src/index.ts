/**
 * cf-container-warm-pool: keep Cloudflare Containers warm and hand them out by session id.
 *
 * Plain Workers use `createWarmPool`; Effect Workers use `WarmPoolClient`. Either way the
 * Worker re-exports the `WarmPool` Durable Object and talks to containers directly.
 */

// The Durable Object to re-export from your Worker.
/** The pool's Durable Object: assigns containers, releases leases, checks health on its alarm. */
export { WarmPool } from "./WarmPool.js"

// The Promise API.
/** A handle on a warm pool for Promise code (the README's API). */
export { createWarmPool, type WarmPoolHandle } from "./createWarmPool.js"

// The Effect API.
/** The Effect client: a `Context.Tag` service with `make` and `layer`, and a scoped `acquire`. */
export { type ContainerStub, WarmPoolClient, type WarmPoolClientService } from "./WarmPoolClient.js"

// The fence.
/** Extend `PooledContainer` instead of `Container`: it serves only the lease the pool holds for it. */
export { PooledContainer } from "./PooledContainer.js"
/** The fence's header names, its refusal reasons, and how to read a refusal or a stub's token. */
export { FENCED_HEADER, fencedReason, type FenceReason, type GoneBody, LEASE_HEADER, type StopReason } from "./internal/fence.js"
export { leaseTokenOf } from "./internal/fencedStub.js"

// Configuration.
/** The config Schema, its defaults, and validation of user options. */
export {
  decodeConfig,
  defaults,
  MAX_CONTAINERS,
  MAX_DURATION_MS,
  MAX_STICKY_CACHE_SIZE,
  WarmPoolConfig,
  type WarmPoolOptions
} from "./Config.js"

// Errors.
/** Every typed failure, as `Schema.TaggedError`s, and their union. */
export {
  ContainerRequestFailed,
  ContainerFenced,
  ContainerStartFailed,
  InvalidArgument,
  InvalidConfig,
  InvalidContainerBinding,
  InvalidSessionId,
  PoolExhausted,
  PoolUnavailable,
  WarmPoolError
} from "./Errors.js"

// Session ids.
/** Session id validation, as the pool applies it. */
export { MAX_SESSION_ID_LENGTH, sessionIdProblem, validateSessionId } from "./SessionId.js"

// Holder ids.
/** Holder id validation: each scoped `acquire` or `fetch` registers one holder on its session's lease. */
export { holderIdProblem, MAX_HOLDER_ID_LENGTH } from "./HolderId.js"

// Results and the RPC protocol.
/** The Schemas and types of what the pool answers, and its RPC surface. */
export {
  Grant,
  Held,
  HoldReleased,
  PoolStats,
  ReleaseResult,
  ShutdownResult,
  type WarmPoolRpc,
  WarmupResult
} from "./Protocol.js"

// Inspect.
/** A page of the pool's containers: its options, their validation, and its answer. */
export {
  ContainerInfo,
  DEFAULT_INSPECT_LIMIT,
  InspectOptions,
  InspectResult,
  MAX_INSPECT_LIMIT,
  validateInspectOptions
} from "./Inspect.js"

// The sticky cache.
/** The per-isolate cache of session → container that makes sticky calls free of pool round trips. */
export * as StickyCache from "./StickyCache.js"

// Stop notices.
/** For a container's `onStop`: tell the pool at once that the container stopped. */
export {
  containerStoppedNotice,
  notifyContainerStopped,
  type NotifyContainerStoppedOptions,
  type StoppedContainer
} from "./notifyContainerStopped.js"
