/**
 * The example's @effect/platform routes that containers.e2e.test.ts does not cover: the Promise routes,
 * /inspect and its validation, errors mapped to statuses, and the dashboard page itself.
 */
import { SELF } from "cloudflare:test"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const get = (path: string, init?: RequestInit) => SELF.fetch(`http://example${path}`, init)

beforeAll(async () => {
  // The other e2e file shuts the example's pool down as it ends: its stops must be done, or they count
  // against maxContainers (3 here). Docker is polled, with a bound.
  await get("/shutdown", { method: "POST" })
  for (let i = 0; i < 120; i++) {
    if ((await (await get("/stats")).json<{ total: number }>()).total === 0) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error("the example's pool still holds containers 30 s after shutdown")
})

afterAll(async () => {
  // Leaves the example's pool as the other e2e file expects to find it: nothing held.
  await get("/shutdown", { method: "POST" })
})

describe("example routes", () => {
  it("the Promise routes reach the same pool: a container, then stats that count its session", async () => {
    const response = await get("/promise/session/promised/")
    expect(response.status, await response.clone().text()).toBe(200)
    expect((await response.json<{ hostname: string }>()).hostname).toMatch(/^[0-9a-f]{12}$/)
    const stats = await (await get("/promise/stats")).json<{ sessions: number }>()
    expect(stats.sessions).toBeGreaterThanOrEqual(1)
    const released = await get("/promise/session/promised/release", { method: "POST" })
    expect(await released.json()).toMatchObject({ released: true })
  })

  it("/inspect pages the containers; bad options are a 400 with the typed error", async () => {
    await get("/session/inspected/assign", { method: "POST" })
    const page = await (await get("/inspect?limit=1")).json<{ containers: Array<{ state: string }>; nextCursor: string | null }>()
    expect(page.containers).toHaveLength(1)
    const all = await (await get("/inspect")).json<{ containers: Array<{ sessionId: string | null }> }>()
    expect(all.containers.map((c) => c.sessionId)).toContain("inspected")
    const bad = await get("/inspect?limit=0")
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: "InvalidArgument" })
  })

  it("maps errors to statuses in one place: unknown route 404, wrong method 405, bad count 400", async () => {
    expect((await get("/nowhere")).status).toBe(404)
    expect((await get("/session/x/", { method: "PUT" })).status).toBe(405)
    const badCount = await get("/warmup?count=-1", { method: "POST" })
    expect(badCount.status).toBe(400)
    expect(await badCount.json()).toMatchObject({ error: "InvalidArgument" })
  })

  it("serves the dashboard: one page with its data-stat and data-action contract, loading nothing from elsewhere", async () => {
    const response = await get("/dashboard")
    expect(response.headers.get("content-type")).toMatch(/^text\/html/)
    const page = await response.text()
    for (const stat of ["warm", "acquired", "warming", "total"]) expect(page).toContain(`data-stat="${stat}"`)
    for (const action of ["new-session", "warmup", "shutdown"]) expect(page).toContain(`data-action="${action}"`)
    expect(page).not.toMatch(/(src|href)="(https?:)?\/\//)
  })
})
