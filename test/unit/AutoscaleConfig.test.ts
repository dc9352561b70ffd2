import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { decodeConfig, defaults } from "../../src/Config.js"
import { InvalidConfig } from "../../src/Errors.js"

const refused = (options: unknown) => Effect.flip(decodeConfig(options))

describe("Config: demand, governor and recycling options", () => {
  it("are optional and absent by default, so existing defaults and behaviour stay", () => {
    for (const key of ["autoscale", "idleTimeout", "maxStartsPerSecond", "revision", "maxContainerAge"]) {
      expect(defaults).not.toHaveProperty(key)
    }
  })

  it.effect("keeps valid values", () =>
    Effect.gen(function*() {
      const config = yield* decodeConfig({
        autoscale: true,
        autoscaleStableWindow: 30_000,
        autoscalePanicWindow: 3_000,
        idleTimeout: 60_000,
        maxStartsPerSecond: 0.5,
        revision: "deploy-42",
        maxContainerAge: 3_600_000
      })
      expect(config).toMatchObject({ autoscale: true, maxStartsPerSecond: 0.5, revision: "deploy-42" })
    }))

  it.effect("refuses bad values with a typed error naming the field", () =>
    Effect.gen(function*() {
      const cases: Array<[unknown, string, string]> = [
        [{ autoscale: "yes" }, "autoscale", "must be true or false"],
        [{ idleTimeout: 0 }, "idleTimeout", "must be an integer from 1"],
        [{ maxStartsPerSecond: 0 }, "maxStartsPerSecond", "must be a number above 0"],
        [{ maxStartsPerSecond: Number.POSITIVE_INFINITY }, "maxStartsPerSecond", "must be a number above 0"],
        [{ revision: "" }, "revision", "must be a string of 1 to 256"],
        [{ maxContainerAge: 1.5 }, "maxContainerAge", "must be an integer"],
        [{ autoscalePanicWindow: 90_000 }, "autoscalePanicWindow", "must not exceed autoscaleStableWindow (90000 > 60000)"]
      ]
      for (const [options, field, reason] of cases) {
        const error = yield* refused(options)
        expect(error).toBeInstanceOf(InvalidConfig)
        expect(error.field).toBe(field)
        expect(error.reason).toContain(reason)
      }
    }))
})
