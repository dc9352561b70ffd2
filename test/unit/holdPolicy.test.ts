import { describe, expect, it } from "@effect/vitest"
import { holderDeadline, holdLeave, holdRenewalMs } from "../../src/internal/holdPolicy.js"
import { emptyCounts, leaseTerms, releaseOutcome } from "../../src/internal/policy.js"

const lease = { sessionId: "s", container: "c", expiresAt: 2_000, cachedUntil: 0 }

describe("hold policy", () => {
  it("the last live holder out ends a lease no plain use marked; any other leaving keeps it", () => {
    expect(holdLeave(0, { sliding: false })).toBe("end")
    expect(holdLeave(0, {})).toBe("end")
    expect(holdLeave(1, { sliding: false })).toBe("kept")
    expect(holdLeave(0, { sliding: true })).toBe("kept")
    expect(holdLeave(3, { sliding: true })).toBe("kept")
  })

  it("a holder lapses acquireTimeout after it was taken, like a lease", () => {
    expect(holderDeadline(1_000, { acquireTimeout: 500 })).toBe(1_500)
    expect(holderDeadline(1_000, { acquireTimeout: 500 })).toBe(leaseTerms(1_000, 0, { acquireTimeout: 500 }).expiresAt)
  })

  it("a live holder renews itself twice per lapse", () => {
    expect(holdRenewalMs({ acquireTimeout: 300_000 })).toBe(150_000)
    expect(holdRenewalMs({ acquireTimeout: 1 })).toBe(1)
    expect(holdRenewalMs({ acquireTimeout: 5 }) * 2).toBeLessThanOrEqual(5)
  })

  it("a release while holders remain stops the container, even for a short warm set", () => {
    expect(releaseOutcome(emptyCounts, lease, 1_000, { minContainers: 1 }, 0)).toBe("warm")
    expect(releaseOutcome(emptyCounts, lease, 1_000, { minContainers: 1 }, 1)).toBe("stopped")
  })

  it("a hold's use does not mark the lease sliding; plain use does", () => {
    expect(leaseTerms(0, 0, { acquireTimeout: 1 }, false).sliding).toBe(false)
    expect(leaseTerms(0, 0, { acquireTimeout: 1 }).sliding).toBe(true)
  })
})
