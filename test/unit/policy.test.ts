import { describe, expect, it } from "@effect/vitest"
import { defaults } from "../../src/Config.js"
import {
  adoptOrphan,
  cacheGrantMs,
  capacityLeft,
  checkOutcome,
  CLIENT_CLOCK_SLACK_MS,
  emptyCounts,
  isAlive,
  isLeaseLive,
  leaseTerms,
  limits,
  refillNeeded,
  releaseOutcome,
  retryDelay,
  toStats,
  totalContainers,
  warmupCount
} from "../../src/internal/policy.js"

const counts = (overrides: Partial<typeof emptyCounts>) => ({ ...emptyCounts, ...overrides })
const lease = (expiresAt: number, cachedUntil = 0) => ({ sessionId: "s", container: "c", expiresAt, cachedUntil })

describe("policy", () => {
  it("counts every held container, stopping ones too, against the cap", () => {
    const c = counts({ warming: 1, starting: 2, warm: 3, acquired: 4, stopping: 5 })
    expect(totalContainers(c)).toBe(15)
    expect(capacityLeft(c, { maxContainers: 20 })).toBe(5)
    expect(capacityLeft(c, { maxContainers: 10 })).toBe(0)
  })

  it("refills the warm set up to minContainers, within the cap", () => {
    expect(refillNeeded(counts({}), { minContainers: 3, maxContainers: 10 })).toBe(3)
    expect(refillNeeded(counts({ warm: 1, warming: 1 }), { minContainers: 3, maxContainers: 10 })).toBe(1)
    expect(refillNeeded(counts({ acquired: 9 }), { minContainers: 3, maxContainers: 10 })).toBe(1)
    expect(refillNeeded(counts({ warm: 5 }), { minContainers: 3, maxContainers: 10 })).toBe(0)
    // Session cold starts are not part of the warm set.
    expect(refillNeeded(counts({ starting: 2 }), { minContainers: 2, maxContainers: 10 })).toBe(2)
  })

  it("returns a released container to a short warm set, and stops it otherwise", () => {
    const live = lease(2_000)
    expect(releaseOutcome(counts({ warm: 0 }), live, 1_000, { minContainers: 1 })).toBe("warm")
    expect(releaseOutcome(counts({ warm: 1 }), live, 1_000, { minContainers: 1 })).toBe("stopped")
    expect(releaseOutcome(counts({ warming: 1 }), live, 1_000, { minContainers: 1 })).toBe("stopped")
    expect(releaseOutcome(counts({}), live, 1_000, { minContainers: 0 })).toBe("stopped")
  })

  it("stops a released container that a sticky cache may still hold, even for a short warm set", () => {
    expect(releaseOutcome(counts({}), lease(9_000, 1_001), 1_000, { minContainers: 1 })).toBe("stopped")
    expect(releaseOutcome(counts({}), lease(9_000, 1_000), 1_000, { minContainers: 1 })).toBe("warm")
  })

  it("grants a cache for at most stickyCacheTtl and half a lease, and records it with the clock slack", () => {
    const config = { acquireTimeout: 1_000, stickyCacheSize: 10, stickyCacheTtl: 60_000 }
    expect(cacheGrantMs(config)).toBe(500)
    expect(cacheGrantMs({ ...config, acquireTimeout: 600_000 })).toBe(60_000)
    expect(leaseTerms(7_000, cacheGrantMs(config), config).cachedUntil).toBe(7_000 + 500 + CLIENT_CLOCK_SLACK_MS)
    expect(cacheGrantMs({ ...config, stickyCacheSize: 0 })).toBe(0)
    expect(leaseTerms(7_000, 0, config).cachedUntil).toBe(0)
  })

  it("always stops the container of an expired lease", () => {
    expect(releaseOutcome(counts({}), lease(1_000), 1_000, { minContainers: 5 })).toBe("stopped")
  })

  it("slides leases by acquireTimeout and expires them at the deadline", () => {
    expect(leaseTerms(1_000, 0, { acquireTimeout: 500 }).expiresAt).toBe(1_500)
    expect(isLeaseLive(lease(1_500), 1_499)).toBe(true)
    expect(isLeaseLive(lease(1_500), 1_500)).toBe(false)
  })

  it("treats only running containers as alive", () => {
    expect(["running", "healthy"].every(isAlive)).toBe(true)
    expect(["stopping", "stopped", "stopped_with_code", "weird"].some(isAlive)).toBe(false)
  })

  it("reports the README's stats fields", () => {
    const stats = toStats(counts({ warming: 1, starting: 1, warm: 2, acquired: 3, stopping: 1 }), 4, defaults)
    expect(stats).toEqual({
      warm: 2,
      acquired: 3,
      warming: 2,
      total: 8,
      config: defaults,
      stopping: 1,
      sessions: 3,
      startFailures: 4
    })
  })

  it("warms up the count asked for, or the refill, within the cap", () => {
    const limits = { minContainers: 3, maxContainers: 5 }
    expect(warmupCount(counts({ warm: 1 }), undefined, limits)).toBe(2)
    expect(warmupCount(counts({ warm: 1 }), 10, limits)).toBe(4)
    expect(warmupCount(counts({ acquired: 5 }), 2, limits)).toBe(0)
    expect(warmupCount(counts({}), 0, limits)).toBe(0)
  })

  it("adopts an orphan only while the warm set, less the undecided orphans, is short", () => {
    expect(adoptOrphan(counts({ warming: 3 }), 3, { minContainers: 1 })).toBe(true)
    expect(adoptOrphan(counts({ warm: 1, warming: 2 }), 2, { minContainers: 1 })).toBe(false)
    expect(adoptOrphan(counts({ warm: 1, warming: 2 }), 2, { minContainers: 2 })).toBe(true)
    expect(adoptOrphan(counts({}), 0, { minContainers: 0 })).toBe(false)
  })

  it("retries a failed tick soon, never later than the next check", () => {
    expect(retryDelay({ healthCheckInterval: 30_000 })).toBe(5_000)
    expect(retryDelay({ healthCheckInterval: 1_000 })).toBe(1_000)
  })
})

describe("checkOutcome", () => {
  it("drops what reports it stopped at once, an unanswered warm one at once, an unanswered leased one on the second miss", () => {
    expect(checkOutcome("acquired", "alive", 0)).toBe("keep")
    expect(checkOutcome("acquired", "dead", 0)).toBe("drop")
    expect(checkOutcome("warm", "unanswered", 1)).toBe("drop")
    expect(checkOutcome("acquired", "unanswered", 1)).toBe("recheck")
    expect(checkOutcome("acquired", "unanswered", limits.failedChecksToDrop)).toBe("drop")
  })
})
