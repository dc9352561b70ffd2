/**
 * The RPC protocol, both ends: the pool decodes every argument and encodes every answer; the
 * client decodes every answer, and anything it cannot trust is `PoolUnavailable`, never a value.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { defaults } from "../../src/Config.js"
import {
  ContainerStartFailed,
  InvalidArgument,
  InvalidConfig,
  InvalidContainerBinding,
  InvalidSessionId,
  PoolExhausted,
  PoolUnavailable
} from "../../src/Errors.js"
import type { Method } from "../../src/Protocol.js"
import { answer, decodeAnswer, methods } from "../../src/Protocol.js"
import { config } from "../support/FakeContainers.js"

type AnyMethod = Method<any, any, any, any>
type MethodName = keyof typeof methods

const stats = {
  warm: 1,
  acquired: 2,
  warming: 0,
  total: 3,
  config: defaults,
  stopping: 0,
  sessions: 2,
  startFailures: 4,
  newSessions: { warm: 5, cold: 1, refused: 0 },
  starts: { succeeded: 6, failed: 4, failedBy: { timeout: 1, platformLimit: 2, other: 1 } },
  startTimeMs: { median: 320, p95: 900, samples: 6 },
  containerSeconds: { warmIdle: 12.5, leased: 3 }
}

const inspected = {
  name: "c-1",
  state: "acquired",
  sessionId: "alice",
  ageMs: 1_000,
  leaseExpiresAt: 300_000,
  lastHealthCheck: { at: 30_000, ok: true },
  binding: "CONTAINER",
  revision: null
}

/** A well-formed success of each method, as the pool encodes it. */
const successes: Record<MethodName, ReadonlyArray<unknown>> = {
  getContainer: [
    { container: "c-1", cacheForMs: 15_000 },
    { container: "c-1", cacheForMs: 0 },
    { container: "c-1", cacheForMs: 0, fence: 3 }
  ],
  renewLease: [null, { container: "c-1", cacheForMs: 15_000 }, { container: "c-1", cacheForMs: 15_000, fence: 1 }],
  releaseContainer: [
    { released: true, outcome: "warm" },
    { released: true, outcome: "stopped" },
    { released: false, outcome: "unknown-session" }
  ],
  hold: [{ container: "c-1" }],
  renewHold: [true, false],
  releaseHold: [
    { outcome: "kept", holdersLeft: 2 },
    { outcome: "warm", holdersLeft: 0 },
    { outcome: "stopped", holdersLeft: 0 },
    { outcome: "not-held", holdersLeft: 0 }
  ],
  stats: [stats],
  warmup: [{ started: 2, warm: 3 }],
  shutdown: [{ stopped: 0 }],
  containerStopped: [true, false],
  inspect: [{ containers: [], nextCursor: null }, { containers: [inspected], nextCursor: "c-1" }]
}

/** Successes of the wrong shape, such as a pool of another version might send. */
const misshapen: Record<MethodName, ReadonlyArray<unknown>> = {
  getContainer: [
    {},
    undefined,
    "c-1",
    { container: "", cacheForMs: 1 },
    { container: "c-1", cacheForMs: -1 },
    { container: "c-1", cacheForMs: 1.5 },
    { container: 42, cacheForMs: 1 },
    { container: "c-1" },
    { container: "c-1", cacheForMs: 1, fence: -1 },
    { container: "c-1", cacheForMs: 1, fence: "3" }
  ],
  renewLease: [
    {},
    undefined,
    { container: "", cacheForMs: 1 },
    { container: "c-1", cacheForMs: -1 },
    { container: "c-1", cacheForMs: 1, fence: 0.5 }
  ],
  releaseContainer: [{}, { released: true, outcome: "lost" }, { released: "yes", outcome: "warm" }],
  hold: [{}, undefined, { container: "" }, { container: 42 }],
  renewHold: ["true", 1, null],
  releaseHold: [{}, { outcome: "released", holdersLeft: 0 }, { outcome: "kept", holdersLeft: -1 }, { outcome: "kept" }],
  stats: [{}, { ...stats, warm: -1 }, { ...stats, total: 1.5 }, { ...stats, config: { minContainers: -1 } }],
  warmup: [{}, { started: -1, warm: 0 }, { started: 1 }],
  shutdown: [{}, { stopped: -2 }, { stopped: "1" }],
  containerStopped: ["true", 1, null],
  inspect: [{}, { containers: [{ ...inspected, state: "lost" }], nextCursor: null }, { containers: [{ ...inspected, ageMs: -1 }], nextCursor: null }]
}

const names = Object.keys(methods) as Array<MethodName>
const specOf = (name: MethodName): AnyMethod => methods[name]

/** What crosses Durable Object RPC: structured-cloned data, no classes. */
const overTheWire = (value: unknown) => structuredClone(value)

/** Asserts `error` is the client's "unexpected shape" `PoolUnavailable` for `method`, and returns its reason. */
const expectUnavailable = (error: unknown, method: string): string => {
  expect(error).toBeInstanceOf(PoolUnavailable)
  const reason = (error as PoolUnavailable).reason
  expect(reason).toContain(`answered ${method} in an unexpected shape`)
  return reason
}

describe("Protocol", () => {
  it("names each method as its key", () => {
    for (const name of names) expect(specOf(name).name).toBe(name)
  })

  describe("decodeAnswer", () => {
    for (const name of names) {
      describe(name, () => {
        it.effect("decodes a well-formed success", () =>
          Effect.gen(function*() {
            for (const value of successes[name]) {
              expect(yield* decodeAnswer(specOf(name), overTheWire({ ok: true, value }))).toEqual(value)
            }
          }))

        it.effect("refuses a success of the wrong shape with PoolUnavailable, never a value", () =>
          Effect.gen(function*() {
            for (const value of misshapen[name]) {
              const result = yield* Effect.either(decodeAnswer(specOf(name), { ok: true, value }))
              expect(Either.isLeft(result), JSON.stringify(value) ?? "undefined").toBe(true)
              if (Either.isLeft(result)) expectUnavailable(result.left, name)
            }
          }))

        it.effect("refuses an answer that is not an envelope", () =>
          Effect.gen(function*() {
            for (const wire of [null, undefined, "x", 42, {}, { ok: "yes", value: true }, { ok: 1, value: true }, []]) {
              const error = yield* Effect.flip(decodeAnswer(specOf(name), wire))
              expect(expectUnavailable(error, name)).toContain("not a result envelope")
            }
          }))

        it.effect("refuses an error it does not know as PoolUnavailable", () =>
          Effect.gen(function*() {
            for (const error of [{ _tag: "Nope", reason: "x" }, { _tag: "PoolExhausted" }, "boom", null]) {
              const decoded = yield* Effect.flip(decodeAnswer(specOf(name), { ok: false, error }))
              expect(expectUnavailable(decoded, name)).toContain("an unknown error")
            }
          }))

        it.effect("round-trips every success through answer and decodeAnswer", () =>
          Effect.gen(function*() {
            for (const value of successes[name]) {
              const envelope = yield* answer(specOf(name), Effect.succeed(value))
              expect(envelope).toEqual({ ok: true, value })
              expect(yield* decodeAnswer(specOf(name), overTheWire(envelope))).toEqual(value)
            }
          }))
      })
    }

    it.effect("round-trips every typed error to the same class and fields", () =>
      Effect.gen(function*() {
        const errors = [
          new PoolExhausted({ warm: 0, warming: 1, acquired: 3, stopping: 2, maxContainers: 6 }),
          new ContainerStartFailed({ attempts: 3, reason: "not ready" }),
          new InvalidConfig({ field: "minContainers", reason: "must be an integer" }),
          new InvalidSessionId({ reason: "must not be empty" }),
          new InvalidArgument({ method: "warmup", argument: "count", reason: "must be an integer" }),
          new InvalidContainerBinding({ binding: "NOPE", reason: "is not defined" }),
          new PoolUnavailable({ reason: "reset" })
        ]
        for (const name of names) {
          for (const error of errors) {
            const envelope = yield* answer(specOf(name), Effect.fail(error))
            expect(envelope.ok).toBe(false)
            const decoded = yield* Effect.flip(decodeAnswer(specOf(name), overTheWire(envelope)))
            expect(decoded).toBeInstanceOf(error.constructor)
            expect(decoded).toEqual(error)
            expect(decoded.message).toBe(error.message)
          }
        }
      }))

    it.effect("answer reports a success it cannot encode as PoolUnavailable, not as a success", () =>
      Effect.gen(function*() {
        const envelope = yield* answer(specOf("getContainer"), Effect.succeed({ container: "", cacheForMs: 1 }))
        expect(envelope.ok).toBe(false)
        const error = yield* Effect.flip(decodeAnswer(specOf("getContainer"), overTheWire(envelope)))
        expect(error).toBeInstanceOf(PoolUnavailable)
        expect(error).toMatchObject({ reason: expect.stringContaining("could not encode its getContainer answer") })
      }))
  })

  describe("decode", () => {
    const cfg = config({ minContainers: 2 })
    const sessionMethods = ["getContainer", "renewLease", "releaseContainer"] as const

    for (const name of sessionMethods) {
      it.effect(`${name} takes a session id and passes the raw config on undecoded`, () =>
        Effect.gen(function*() {
          const payload = yield* methods[name].decode(["a", cfg])
          expect(payload).toEqual({ sessionId: "a", config: cfg })
          expect(payload.config).toBe(cfg)
        }))

      it.effect(`${name} refuses a bad session id with InvalidSessionId`, () =>
        Effect.gen(function*() {
          for (const id of ["", 42, null, undefined, "x".repeat(513), "\u0000"]) {
            expect(yield* Effect.flip(methods[name].decode([id, cfg]))).toBeInstanceOf(InvalidSessionId)
          }
        }))

      it.effect(`${name} refuses a missing config with InvalidConfig`, () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(methods[name].decode(["a", undefined]))
          expect(error).toBeInstanceOf(InvalidConfig)
          expect(error).toMatchObject({ field: "config", reason: "must be an object, got undefined" })
        }))
    }

    for (const name of ["stats", "shutdown"] as const) {
      it.effect(`${name} takes a config and refuses a missing one with InvalidConfig`, () =>
        Effect.gen(function*() {
          expect((yield* methods[name].decode([cfg])).config).toBe(cfg)
          const error = yield* Effect.flip(methods[name].decode([undefined]))
          expect(error).toBeInstanceOf(InvalidConfig)
          expect(error).toMatchObject({ field: "config" })
        }))
    }

    it.effect("warmup takes an absent or whole count, and refuses others with InvalidArgument", () =>
      Effect.gen(function*() {
        expect(yield* methods.warmup.decode([undefined, cfg])).toEqual({ count: undefined, config: cfg })
        expect(yield* methods.warmup.decode([0, cfg])).toEqual({ count: 0, config: cfg })
        expect(yield* methods.warmup.decode([3, cfg])).toEqual({ count: 3, config: cfg })
        for (const count of [-1, 1.5, NaN, Infinity, "3", null, 1_000_001]) {
          const error = yield* Effect.flip(methods.warmup.decode([count, cfg]))
          expect(error, String(count)).toBeInstanceOf(InvalidArgument)
          expect(error).toMatchObject({ method: "warmup", argument: "count" })
        }
        expect(yield* Effect.flip(methods.warmup.decode([3, undefined]))).toBeInstanceOf(InvalidConfig)
      }))

    for (const name of ["hold", "renewHold", "releaseHold"] as const) {
      it.effect(`${name} takes a session id and a holder id, and refuses a bad holder id with InvalidArgument`, () =>
        Effect.gen(function*() {
          expect(yield* methods[name].decode(["a", "h-1_X", cfg])).toEqual({ sessionId: "a", holderId: "h-1_X", config: cfg })
          for (const holder of ["", 42, null, undefined, "x".repeat(65), "a b", "a/b", "\u0000", "日本"]) {
            const error = yield* Effect.flip(methods[name].decode(["a", holder, cfg]))
            expect(error, String(holder)).toBeInstanceOf(InvalidArgument)
            expect(error).toMatchObject({ method: name, argument: "holderId" })
          }
          expect(yield* Effect.flip(methods[name].decode(["", "h", cfg]))).toBeInstanceOf(InvalidSessionId)
          expect(yield* Effect.flip(methods[name].decode(["a", "h", undefined]))).toBeInstanceOf(InvalidConfig)
        }))
    }

    it.effect("containerStopped takes a container reference, and refuses others with InvalidArgument", () =>
      Effect.gen(function*() {
        expect(yield* methods.containerStopped.decode(["c-1"])).toBe("c-1")
        for (const reference of ["", 42, null, undefined, "x".repeat(513)]) {
          const error = yield* Effect.flip(methods.containerStopped.decode([reference]))
          expect(error).toBeInstanceOf(InvalidArgument)
          expect(error).toMatchObject({ method: "containerStopped", argument: "container" })
        }
      }))
  })
})
