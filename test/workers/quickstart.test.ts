/**
 * The README quick start, as written (test/workers/quickstart.ts is checked against the README
 * by a unit test), run against stand-in containers.
 */
import { env, SELF } from "cloudflare:test"
import { describe, expect, it } from "vitest"
import { createWarmPool } from "cf-container-warm-pool"

describe("README quick start", () => {
  it("routes a session to its container, and the same session to the same one", async () => {
    const ask = (session: string) =>
      SELF.fetch("http://example.com/", { headers: { "x-session-id": session } }).then((r) => r.json<any>())
    const first = await ask("readme-user")
    const second = await ask("readme-user")
    const other = await ask("readme-other")
    expect(second.container).toBe(first.container)
    expect(second.requests).toBe(first.requests + 1)
    expect(other.container).not.toBe(first.container)
    const stats = await createWarmPool(env.WARM_POOL, env.CONTAINER, { minContainers: 2, maxContainers: 10 }).stats()
    expect(stats).toMatchObject({ acquired: 2, config: { minContainers: 2, maxContainers: 10 } })
  })
})
