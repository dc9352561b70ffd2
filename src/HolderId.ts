/**
 * Holder ids: the name a client gives one scoped use of a lease (`acquire`, `fetch`), so the pool
 * can count the holders of a lease whichever isolate took them, and drop each exactly once.
 */
import { Effect } from "effect"
import { InvalidArgument } from "./Errors.js"

/** Longest accepted holder id. A UUID has 36 characters. */
export const MAX_HOLDER_ID_LENGTH = 64

const holderIdShape = /^[A-Za-z0-9_-]+$/

/** Why `id` is not a valid holder id, or `undefined` when it is. */
export const holderIdProblem = (id: unknown): string | undefined => {
  if (typeof id !== "string") return `must be a string, got ${id === null ? "null" : typeof id}`
  if (id.length === 0 || id.length > MAX_HOLDER_ID_LENGTH) {
    return `must be 1 to ${MAX_HOLDER_ID_LENGTH} characters, got ${id.length}`
  }
  if (!holderIdShape.test(id)) return "must hold only letters, digits, '-' and '_'"
  return undefined
}

/** Validates an untrusted holder id, as an argument of `method`. */
export const validateHolderId = (method: string, id: unknown): Effect.Effect<string, InvalidArgument> => {
  const reason = holderIdProblem(id)
  return reason === undefined
    ? Effect.succeed(id as string)
    : Effect.fail(new InvalidArgument({ method, argument: "holderId", reason }))
}

/** A fresh holder id: random, so holders from different isolates never collide. */
export const newHolderId = (): string => crypto.randomUUID()
