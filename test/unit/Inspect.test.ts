import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { InvalidArgument, InvalidConfig } from "../../src/Errors.js"
import { type InspectResult, validateInspectOptions } from "../../src/Inspect.js"
import { methods } from "../../src/Protocol.js"
import { config, makeHarness } from "../support/FakeContainers.js"

const cfg = config()

describe("inspect", () => {
  describe("options", () => {
    it.effect("takes a limit from 1 to 500 and an earlier page's cursor; defaults to 50 from the start", () =>
      Effect.gen(function*() {
        expect(yield* validateInspectOptions(undefined)).toEqual({ limit: 50, cursor: null })
        expect(yield* validateInspectOptions({})).toEqual({ limit: 50, cursor: null })
        expect(yield* validateInspectOptions({ limit: 1, cursor: "c-9" })).toEqual({ limit: 1, cursor: "c-9" })
        expect(yield* validateInspectOptions({ limit: 500, cursor: null })).toEqual({ limit: 500, cursor: null })
      }))

    it.effect("refuses bad options with InvalidArgument naming the argument", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [unknown, string]> = [
          [{ limit: 0 }, "options.limit"],
          [{ limit: 501 }, "options.limit"],
          [{ limit: 1.5 }, "options.limit"],
          [{ limit: "10" }, "options.limit"],
          [{ limit: Number.NaN }, "options.limit"],
          [{ cursor: "" }, "options.cursor"],
          [{ cursor: 42 }, "options.cursor"],
          [{ cursor: "x".repeat(513) }, "options.cursor"],
          [{ offset: 3 }, "options.offset"],
          [[], "options"],
          ["all", "options"],
          [null, "options"]
        ]
        for (const [options, argument] of cases) {
          const error = yield* Effect.flip(validateInspectOptions(options))
          expect(error).toBeInstanceOf(InvalidArgument)
          expect(error).toMatchObject({ method: "inspect", argument })
          expect(error.reason.length).toBeGreaterThan(0)
        }
      }))

    it.effect("the pool decodes options and config, and refuses a missing config", () =>
      Effect.gen(function*() {
        expect(yield* methods.inspect.decode([{ limit: 3 }, cfg])).toEqual({ limit: 3, cursor: null, config: cfg })
        expect(yield* Effect.flip(methods.inspect.decode([{ limit: 3 }, undefined]))).toBeInstanceOf(InvalidConfig)
        expect(yield* Effect.flip(methods.inspect.decode([{ limit: -3 }, cfg]))).toBeInstanceOf(InvalidArgument)
      }))
  })

  describe("pages", () => {
    it.scoped("lists every container once, a page at a time, with its state, session, age, lease and check", () =>
      Effect.gen(function*() {
        const { engine } = yield* makeHarness
        const pool = config({ minContainers: 4, healthCheckInterval: 1_000 })
        yield* engine.warmup(undefined, pool)
        yield* TestClock.adjust(Duration.millis(1_000))
        yield* engine.tick // checks the four warm containers
        const held = yield* engine.getContainer("alice", pool)
        yield* engine.settled
        const inspect = (limit: number, cursor: string | null) => engine.inspect(limit, cursor, pool)
        const seen: Array<string> = []
        let cursor: string | null = null
        let pages = 0
        do {
          const page: InspectResult = yield* inspect(2, cursor)
          expect(page.containers.length).toBeLessThanOrEqual(2)
          seen.push(...page.containers.map((c) => c.name))
          cursor = page.nextCursor
          pages++
        } while (cursor !== null)
        expect(pages).toBe(3) // 5 containers: 2 + 2 + 1
        expect(new Set(seen).size).toBe(5)
        expect([...seen].sort()).toEqual(seen)
        const all = (yield* inspect(10, null)).containers
        const alice = all.find((c) => c.name === held)!
        expect(alice).toMatchObject({ state: "acquired", sessionId: "alice", ageMs: 1_000, lastHealthCheck: { at: 1_000, ok: true } })
        expect(alice.leaseExpiresAt).toBe(1_000 + pool.acquireTimeout)
        const refill = all.find((c) => c.lastHealthCheck === null)!
        expect(refill).toMatchObject({ state: "warm", sessionId: null, ageMs: 0, leaseExpiresAt: null })
        expect(all.every((c) => c.revision === null)).toBe(true) // this config names no revision
      }))

    it.scoped("shows the revision each container was started under", () =>
      Effect.gen(function*() {
        const { engine } = yield* makeHarness
        const pool = config({ minContainers: 1, revision: "v2" })
        const held = yield* engine.getContainer("alice", pool)
        yield* engine.settled
        const all = (yield* engine.inspect(10, null, pool)).containers
        expect(all.length).toBeGreaterThanOrEqual(2) // alice's and the refill
        expect(all.find((c) => c.name === held)).toMatchObject({ sessionId: "alice", revision: "v2" })
        expect(all.every((c) => c.revision === "v2")).toBe(true)
      }))
  })
})
