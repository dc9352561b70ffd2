/**
 * The fence's rules as pure functions: which tokens a container admits, and why it refuses the rest. Pool
 * messages may arrive late or out of order; epochs only grow, so a late one never undoes a newer one.
 */
import { describe, expect, it } from "@effect/vitest"
import type { FenceRecord } from "../../src/internal/fence.js"
import { admit, FENCED_HEADER, fencedReason, gone, parseToken, revoke, stop } from "../../src/internal/fence.js"

/** Applies an admitted request's record, as the container does. */
const request = (record: FenceRecord | undefined, token: number | undefined) => {
  const verdict = admit(record, token)
  return { verdict, record: verdict.admitted ? verdict.record ?? record : record }
}

describe("fence", () => {
  it("admits a new lease's token on its first request, then only that token while the lease holds", () => {
    const first = request(undefined, 1)
    expect(first.verdict).toEqual({ admitted: true, record: { epoch: 1, leased: true, reason: null, final: false } })
    expect(admit(first.record, 1)).toEqual({ admitted: true })
    expect(admit(first.record, 0)).toEqual({ admitted: false, reason: "leased-again" })
  })

  it("a revoked lease's token is refused as released; the next lease's token is admitted and ends the old one", () => {
    const leased = request(undefined, 1).record
    const released = revoke(leased, 2, "released")
    expect(admit(released, 1)).toEqual({ admitted: false, reason: "released" })
    const next = request(released, 3)
    expect(next.verdict.admitted).toBe(true)
    expect(admit(next.record, 1)).toEqual({ admitted: false, reason: "leased-again" })
  })

  it("a revocation that arrives after a newer lease's first request changes nothing", () => {
    const newer = request(undefined, 3).record
    expect(revoke(newer, 2, "released")).toBeUndefined()
    expect(admit(newer, 3)).toEqual({ admitted: true })
  })

  it("a revocation that arrives before its lease was ever used still refuses that lease's token", () => {
    const released = revoke(undefined, 2, "released")
    expect(admit(released, 1)).toEqual({ admitted: false, reason: "released" })
  })

  it("a stop is final: every token is refused with its reason, and nothing undoes it", () => {
    for (const reason of ["expired", "shut-down", "dead", "released", "retired", "stopped"] as const) {
      const stopped = stop(request(undefined, 5).record, reason)
      expect(admit(stopped, 5)).toEqual({ admitted: false, reason })
      expect(admit(stopped, 99), "not even a newer token").toEqual({ admitted: false, reason })
      expect(revoke(stopped, 99, "released")).toBeUndefined()
      expect(stop(stopped, "stopped"), "a retried stop keeps the first reason").toEqual(stopped)
    }
  })

  it("without a token: never leased, or no token", () => {
    expect(admit(undefined, undefined)).toEqual({ admitted: false, reason: "never-leased" })
    expect(admit(request(undefined, 1).record, undefined)).toEqual({ admitted: false, reason: "no-token" })
  })

  it("reads tokens strictly: digits only, within safe integers", () => {
    expect(parseToken("7")).toBe(7)
    expect(parseToken(null)).toBeUndefined()
    for (const bad of ["", "-1", "1.5", "0x10", " 1", "1e3", "9".repeat(16)]) expect(parseToken(bad), bad).toBeUndefined()
  })

  it("a refusal is a 410 with the reason in a header and a JSON body; an app's own 410 is not a refusal", async () => {
    const response = gone("expired")
    expect(response.status).toBe(410)
    expect(response.headers.get(FENCED_HEADER)).toBe("expired")
    expect(await response.clone().json()).toEqual({ reason: "expired", message: expect.stringContaining("expired") })
    expect(fencedReason(response)).toBe("expired")
    expect(fencedReason(new Response("gone", { status: 410 }))).toBeUndefined()
    expect(fencedReason(new Response("", { status: 410, headers: { [FENCED_HEADER]: "made-up" } }))).toBeUndefined()
  })
})
