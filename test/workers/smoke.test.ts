import { describe, expect, it } from "vitest"
import { newPool, stateOf } from "./helpers.js"
import { standIn } from "./StandInContainer.js"

describe("smoke", () => {
  it("assigns a container and reaches it", async () => {
    const { pool, settled } = newPool({ minContainers: 1 })
    const container = await pool.getContainer("a")
    const response = await container.fetch("http://container/")
    expect(response.status).toBe(200)
    expect(stateOf(container)?.requests).toBe(1)
    await settled()
    expect(await pool.stats()).toMatchObject({ warm: 1, acquired: 1 })
    expect(standIn.running()).toBeGreaterThanOrEqual(2)
  })
})
