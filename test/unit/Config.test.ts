import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { decodeConfig, defaults, MAX_CONTAINERS, MAX_DURATION_MS } from "../../src/Config.js"
import { isSameConfig, poolPart } from "../../src/internal/PoolSettings.js"
import { methods } from "../../src/Protocol.js"
import { InvalidConfig } from "../../src/Errors.js"

const rejects = (options: unknown) => Effect.runSync(Effect.either(decodeConfig(options)))

describe("Config", () => {
  it("has the README's defaults", () => {
    expect(defaults).toEqual({
      minContainers: 1,
      maxContainers: 10,
      acquireTimeout: 300_000,
      healthCheckInterval: 30_000,
      ports: [],
      startupTimeout: 30_000,
      startRetries: 2,
      name: "default",
      containerBinding: "CONTAINER",
      stickyCacheSize: 10_000,
      stickyCacheTtl: 30_000,
      traceSessionIds: false
    })
  })

  it.effect("fills in defaults and keeps given values", () =>
    Effect.gen(function*() {
      const config = yield* decodeConfig({ minContainers: 3, ports: [8080, 9090] })
      expect(config).toEqual({ ...defaults, minContainers: 3, ports: [8080, 9090] })
      expect(yield* decodeConfig(undefined)).toEqual(defaults)
    }))

  it("keys the pool's stored config without the client-only sticky cache options", () => {
    expect(poolPart({ ...defaults, stickyCacheSize: 0, stickyCacheTtl: 5 })).toBe(poolPart(defaults))
    expect(poolPart({ ...defaults, minContainers: 2 })).not.toBe(poolPart(defaults))
    expect(poolPart(defaults)).not.toContain("stickyCache")
  })

  it("recognises an unchanged config without decoding it, and any change as a change", () => {
    expect(isSameConfig(JSON.parse(JSON.stringify(defaults)), defaults)).toBe(true)
    expect(isSameConfig({ ...defaults, ports: [8080] }, { ...defaults, ports: [8080] })).toBe(true)
    expect(isSameConfig({ ...defaults, ports: [8081] }, { ...defaults, ports: [8080] })).toBe(false)
    expect(isSameConfig({ ...defaults, minContainers: 2 }, defaults)).toBe(false)
    expect(isSameConfig({ ...defaults, extra: 1 }, defaults)).toBe(false)
    const { name: _name, ...missing } = defaults
    expect(isSameConfig({ ...missing, other: "default" }, defaults)).toBe(false)
    expect(isSameConfig({ ...defaults, ports: "8080" }, defaults)).toBe(false)
    expect(isSameConfig(null, defaults)).toBe(false)
    expect(isSameConfig("config", defaults)).toBe(false)
  })

  it("accepts Cloudflare-sized pools", () => {
    const result = rejects({ minContainers: 2_000, maxContainers: 5_000 })
    expect(Either.isRight(result)).toBe(true)
  })

  const bad: ReadonlyArray<[string, unknown, string, RegExp]> = [
    ["negative", { minContainers: -1 }, "minContainers", /integer from 0/],
    ["non-integer", { maxContainers: 2.5 }, "maxContainers", /integer from 1/],
    ["NaN", { acquireTimeout: NaN }, "acquireTimeout", /got NaN/],
    ["Infinity", { healthCheckInterval: Infinity }, "healthCheckInterval", /got Infinity/],
    ["a string", { minContainers: "2" }, "minContainers", /got "2"/],
    ["zero max", { maxContainers: 0 }, "maxContainers", /integer from 1/],
    ["zero timeout", { startupTimeout: 0 }, "startupTimeout", /integer from 1/],
    ["negative timeout", { acquireTimeout: -5 }, "acquireTimeout", /integer from 1/],
    ["timer overflow", { acquireTimeout: MAX_DURATION_MS + 1 }, "acquireTimeout", /integer from 1 to 2147483647/],
    ["too many containers", { maxContainers: MAX_CONTAINERS + 1 }, "maxContainers", /integer from 1 to 1000000/],
    ["negative cache size", { stickyCacheSize: -1 }, "stickyCacheSize", /integer from 0 to 1000000/],
    ["fractional cache size", { stickyCacheSize: 0.5 }, "stickyCacheSize", /integer from 0/],
    ["zero cache TTL", { stickyCacheTtl: 0 }, "stickyCacheTtl", /integer from 1/],
    ["min above max", { minContainers: 5, maxContainers: 2 }, "minContainers", /must not exceed maxContainers/],
    ["port 0", { ports: [0] }, "ports", /integer from 1 to 65535/],
    ["port too big", { ports: [70_000] }, "ports", /integer from 1 to 65535/],
    ["duplicate ports", { ports: [80, 80] }, "ports", /distinct/],
    ["ports not an array", { ports: 8080 }, "ports", /array of ports/],
    ["unknown key", { minContainer: 2 }, "minContainer", /not a known option/],
    ["empty name", { name: "" }, "name", /1 to 256/],
    ["binding not an identifier", { containerBinding: "my binding" }, "containerBinding", /binding name/],
    ["a long string is not echoed", { name: "x".repeat(10_000) }, "name", /a long string/],
    ["not an object", "config", "config", /must be an object/],
    ["null", null, "config", /must be an object/]
  ]

  for (const [label, options, field, reason] of bad) {
    it(`rejects ${label} with InvalidConfig naming ${field}`, () => {
      const result = rejects(options)
      expect(Either.isLeft(result)).toBe(true)
      const error = Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : undefined))
      expect(error).toBeInstanceOf(InvalidConfig)
      expect(error).toBeInstanceOf(Error)
      expect(error?.field).toBe(field)
      expect(error?.message).toMatch(reason)
      expect(error?.message).toContain(field)
    })
  }

  it("quotes at most 64 characters of a caller's unknown key", () => {
    const key = "k".repeat(1_000_000)
    const result = rejects({ [key]: 1 })
    const error = Either.isLeft(result) ? result.left : undefined
    expect(error?.field).toBe(`${"k".repeat(64)}… (1000000 characters)`)
    expect(error?.message.length).toBeLessThan(200)
  })

  it("over RPC, a missing config is an error, not the defaults", () => {
    const result = Effect.runSync(Effect.either(methods.stats.decode([undefined])))
    expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "InvalidConfig", field: "config" })
    expect(Either.isRight(Effect.runSync(Effect.either(methods.stats.decode([{}]))))).toBe(true)
  })
})
