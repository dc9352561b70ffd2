/**
 * Session ids: the keys that map callers to their containers.
 */
import { Effect } from "effect"
import { InvalidSessionId } from "./Errors.js"

/** Longest accepted id, in UTF-16 code units. */
export const MAX_SESSION_ID_LENGTH = 512

// SQLite stores text as UTF-8: a lone surrogate cannot round-trip, and NUL ends a C string.
const unstorable = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\u0000/

/** Why `id` is not a valid session id, or `undefined` when it is. */
export const sessionIdProblem = (id: unknown): string | undefined => {
  if (typeof id !== "string") return `must be a string, got ${id === null ? "null" : typeof id}`
  if (id.length === 0) return "must not be empty"
  if (id.length > MAX_SESSION_ID_LENGTH) {
    return `must be at most ${MAX_SESSION_ID_LENGTH} characters, got ${id.length}`
  }
  if (unstorable.test(id)) return "must be well-formed Unicode without NUL characters"
  return undefined
}

/** Validates an untrusted session id. */
export const validateSessionId = (id: unknown): Effect.Effect<string, InvalidSessionId> => {
  const reason = sessionIdProblem(id)
  return reason === undefined ? Effect.succeed(id as string) : Effect.fail(new InvalidSessionId({ reason }))
}
