/**
 * `inspect`: the pool's containers, a page at a time. Its options are validated on both sides (the
 * pool trusts no caller), and a page reads O(limit) rows whatever the pool's size.
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import { InvalidArgument } from "./Errors.js"

/** Most containers one `inspect` call lists. */
export const MAX_INSPECT_LIMIT = 500
/** Containers listed when no `limit` is given. */
export const DEFAULT_INSPECT_LIMIT = 50

const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/** What `inspect` takes: how many containers, and where the previous page ended. */
export const InspectOptions = Schema.Struct({
  limit: Schema.optional(
    Schema.Number.pipe(
      Schema.int({ message: () => `must be an integer from 1 to ${MAX_INSPECT_LIMIT}` }),
      Schema.between(1, MAX_INSPECT_LIMIT, { message: () => `must be an integer from 1 to ${MAX_INSPECT_LIMIT}` })
    )
  ),
  cursor: Schema.optional(
    Schema.NullOr(
      Schema.String.pipe(
        Schema.minLength(1, { message: () => "must be the nextCursor of an earlier page" }),
        Schema.maxLength(512, { message: () => "must be the nextCursor of an earlier page" })
      )
    )
  )
})
export type InspectOptions = typeof InspectOptions.Type

/** One container as `inspect` lists it. */
export const ContainerInfo = Schema.Struct({
  /** Its name, the container's Durable Object id. */
  name: Schema.String,
  state: Schema.Literal("warming", "starting", "warm", "acquired", "stopping"),
  /** The session that holds it, when acquired. */
  sessionId: Schema.NullOr(Schema.String),
  /** Ms since the pool reserved its slot. */
  ageMs: Count,
  /** When its lease expires (ms since the epoch), when acquired. */
  leaseExpiresAt: Schema.NullOr(Count),
  /** Its last health check: when (ms since the epoch), and whether the container answered. */
  lastHealthCheck: Schema.NullOr(Schema.Struct({ at: Count, ok: Schema.Boolean })),
  /** The container binding it was started in (null: from before bindings were recorded). */
  binding: Schema.NullOr(Schema.String),
  /** The config's `revision` when its slot was reserved (null: the config had none). */
  revision: Schema.NullOr(Schema.String)
})
export type ContainerInfo = typeof ContainerInfo.Type

/** A page of containers, in name order, and the cursor of the next page (null on the last). */
export const InspectResult = Schema.Struct({
  containers: Schema.Array(ContainerInfo),
  nextCursor: Schema.NullOr(Schema.String)
})
export type InspectResult = typeof InspectResult.Type

const decodeOptions = Schema.decodeUnknownEither(InspectOptions, { onExcessProperty: "error", errors: "first" })

/** Validates untrusted `inspect` options into a limit and a cursor; a bad one is an `InvalidArgument`. */
export const validateInspectOptions = (
  options: unknown
): Effect.Effect<{ readonly limit: number; readonly cursor: string | null }, InvalidArgument> =>
  Either.match(decodeOptions(options === undefined ? {} : options), {
    onLeft: (error) => {
      const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
      const argument = issue !== undefined && issue.path.length > 0 ? `options.${String(issue.path[0]).slice(0, 64)}` : "options"
      const reason = issue === undefined
        ? "is invalid"
        : issue._tag === "Unexpected"
        ? "is not a known option (limit, cursor)"
        : issue.path.length === 0
        ? "must be an object with optional limit and cursor"
        : issue.message
      return Effect.fail(new InvalidArgument({ method: "inspect", argument, reason }))
    },
    onRight: (decoded) =>
      Effect.succeed({ limit: decoded.limit ?? DEFAULT_INSPECT_LIMIT, cursor: decoded.cursor ?? null })
  })
