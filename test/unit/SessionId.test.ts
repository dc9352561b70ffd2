import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { InvalidSessionId } from "../../src/Errors.js"
import { MAX_SESSION_ID_LENGTH, validateSessionId } from "../../src/SessionId.js"

const check = (id: unknown) => Effect.runSync(Effect.either(validateSessionId(id)))

describe("SessionId", () => {
  it("accepts ordinary, unicode and SQL-looking ids, up to 512 characters", () => {
    for (const id of ["a", "user-42", "日本語🙂", "'; DROP TABLE wp_slots; --", "x".repeat(MAX_SESSION_ID_LENGTH)]) {
      expect(check(id)).toEqual(Either.right(id))
    }
  })

  const bad: ReadonlyArray<[string, unknown, RegExp]> = [
    ["empty", "", /must not be empty/],
    ["too long", "x".repeat(MAX_SESSION_ID_LENGTH + 1), /at most 512 characters, got 513/],
    ["10 MB", "y".repeat(10 * 1024 * 1024), /at most 512 characters/],
    ["a number", 42, /must be a string, got number/],
    ["null", null, /got null/],
    ["an object", { id: "a" }, /got object/],
    ["a lone surrogate", "a\uD800b", /well-formed/],
    ["NUL", "a\u0000b", /NUL/]
  ]
  for (const [label, id, reason] of bad) {
    it(`rejects ${label}`, () => {
      const result = check(id)
      expect(Either.isLeft(result)).toBe(true)
      const error = Either.isLeft(result) ? result.left : undefined
      expect(error).toBeInstanceOf(InvalidSessionId)
      expect(error?.message).toMatch(reason)
      expect(error?.message.length).toBeLessThan(200)
    })
  }
})
