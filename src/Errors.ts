/**
 * Typed failures of the warm pool. Every error is a `Schema.TaggedError`, so it
 * can cross Durable Object RPC as plain data and be rebuilt as the same class.
 */
import { Schema } from "effect"

/** A config value is missing, of the wrong type, or out of range. */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid warm pool config: ${this.field} ${this.reason}`
  }
}

/** A session id is not a non-empty string of at most 512 characters. */
export class InvalidSessionId extends Schema.TaggedError<InvalidSessionId>()("InvalidSessionId", {
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid session id: ${this.reason}`
  }
}

/** An RPC argument other than a session id or config has the wrong type or range. */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  method: Schema.String,
  argument: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid argument ${this.argument} of ${this.method}: ${this.reason}`
  }
}

/** No warm container is free and starting another would exceed `maxContainers`. */
export class PoolExhausted extends Schema.TaggedError<PoolExhausted>()("PoolExhausted", {
  warm: Schema.Number,
  warming: Schema.Number,
  acquired: Schema.Number,
  stopping: Schema.Number,
  maxContainers: Schema.Number
}) {
  override get message(): string {
    return `Warm pool exhausted: ${this.acquired} acquired, ${this.warming} warming, ${this.warm} warm, ` +
      `${this.stopping} stopping, maxContainers ${this.maxContainers}`
  }
}

/** A container did not become ready within `startupTimeout` after every retry. */
export class ContainerStartFailed extends Schema.TaggedError<ContainerStartFailed>()("ContainerStartFailed", {
  attempts: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `Container failed to start after ${this.attempts} attempt(s): ${this.reason}`
  }
}

/** The container binding named in the config is missing or is not a Durable Object namespace. */
export class InvalidContainerBinding extends Schema.TaggedError<InvalidContainerBinding>()(
  "InvalidContainerBinding",
  {
    binding: Schema.String,
    reason: Schema.String
  }
) {
  override get message(): string {
    return `Container binding "${this.binding}" ${this.reason}`
  }
}

/** The pool Durable Object could not be reached, or failed unexpectedly. */
export class PoolUnavailable extends Schema.TaggedError<PoolUnavailable>()("PoolUnavailable", {
  reason: Schema.String
}) {
  override get message(): string {
    return `Warm pool unavailable: ${this.reason}`
  }
}

/**
 * A request the `fetch(sessionId, request)` helper sent to the session's container failed before it
 * answered (the container's stub threw). The session's hold was dropped. Not a pool answer, so it is
 * not part of `WarmPoolError`.
 */
export class ContainerRequestFailed extends Schema.TaggedError<ContainerRequestFailed>()("ContainerRequestFailed", {
  reason: Schema.String
}) {
  override get message(): string {
    return `The request to the session's container failed: ${this.reason}`
  }
}

/**
 * A `PooledContainer` refused a request with its fence's `410 Gone` (the stub's lease had ended), and it could
 * not be sent again: it could not be replayed, or the container resolved anew refused it too. Raised on the
 * client's side only; the pool never reports it.
 */
export class ContainerFenced extends Schema.TaggedError<ContainerFenced>()("ContainerFenced", {
  sessionId: Schema.String,
  /** The fence's reason, from its `410` (see `PooledContainer`). */
  reason: Schema.String,
  /** Whether the request was sent again after resolving the session anew. */
  retried: Schema.Boolean
}) {
  override get message(): string {
    return `The container of session "${this.sessionId.slice(0, 64)}" refused the request (${this.reason}), ` +
      (this.retried ? "and refused it again once resolved anew" : "and the request cannot be replayed")
  }
}

/** Every typed failure the pool can report. */
export const WarmPoolError = Schema.Union(
  InvalidConfig,
  InvalidSessionId,
  InvalidArgument,
  PoolExhausted,
  ContainerStartFailed,
  InvalidContainerBinding,
  PoolUnavailable
)
export type WarmPoolError = typeof WarmPoolError.Type
