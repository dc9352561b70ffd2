/**
 * Failures that stay inside the pool. The engine maps them before they cross RPC:
 * `StorageError` becomes `PoolUnavailable`, `ContainerCallFailed` a start failure or a retry.
 */
import { Effect, Schema } from "effect"
import { PoolUnavailable } from "../Errors.js"

/** A SQLite statement or an alarm call of the pool's Durable Object storage failed. */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `storage ${this.operation} failed: ${this.reason}`
  }
}

/** A call to a container Durable Object failed, threw or timed out. */
export class ContainerCallFailed extends Schema.TaggedError<ContainerCallFailed>()("ContainerCallFailed", {
  container: Schema.String,
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.operation} on container ${this.container} failed: ${this.reason}`
  }
}

/** The text of whatever was thrown. */
export const reasonOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** At the pool's edge: a storage failure reaches callers as `PoolUnavailable`. */
export const storageAsUnavailable = <A, E, R>(
  effect: Effect.Effect<A, E | StorageError, R>
): Effect.Effect<A, Exclude<E, StorageError> | PoolUnavailable, R> =>
  Effect.catchIf(
    effect,
    (error): error is StorageError => error instanceof StorageError,
    (error) => Effect.fail(new PoolUnavailable({ reason: error.message }))
  ) as Effect.Effect<A, Exclude<E, StorageError> | PoolUnavailable, R>
