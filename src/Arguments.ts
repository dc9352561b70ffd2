/**
 * Validation of RPC arguments other than session ids and config, shared by the client
 * (to fail fast) and the pool (which trusts no caller).
 */
import { Effect } from "effect"
import { MAX_CONTAINERS } from "./Config.js"
import { InvalidArgument } from "./Errors.js"

/** A `warmup` count: absent, or an integer from 0 to `MAX_CONTAINERS`. */
export const validateWarmupCount = (count: unknown): Effect.Effect<number | undefined, InvalidArgument> =>
  count === undefined || (Number.isSafeInteger(count) && (count as number) >= 0 && (count as number) <= MAX_CONTAINERS)
    ? Effect.succeed(count as number | undefined)
    : Effect.fail(
      new InvalidArgument({
        method: "warmup",
        argument: "count",
        reason: `must be an integer from 0 to ${MAX_CONTAINERS}`
      })
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
