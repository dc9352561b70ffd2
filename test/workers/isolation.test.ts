/**
 * Isolation in workerd, against the real WarmPool Durable Object: a shutdown while a tick waits on a
 * container, clients with different configs, a changed container binding, a health check that fails once.
 * The stand-in container holds the awaited call, so each race lands exactly where it should, with no sleeps.
 */
import { env, runInDurableObject } from "cloudflare:test"
import { createWarmPool } from "cf-container-warm-pool"
import { afterEach, describe, expect, it } from "vitest"
import { newPool, stateOf } from "./helpers.js"
import { standIn } from "./StandInContainer.js"

afterEach(() => standIn.reset())

const makeChecksDue = (stub: DurableObjectStub) =>
  runInDurableObject(stub, (_i, state) => void state.storage.sql.exec(`UPDATE wp_slots SET check_due_at = 0 WHERE check_due_at IS NOT NULL`))
const slotsOf = (stub: DurableObjectStub) =>
  runInDurableObject(stub, (_i, state) =>
    state.storage.sql.exec<{ container: string; state: string; binding: string | null }>(
      `SELECT container, state, binding FROM wp_slots`
    ).toArray())
const alarmOf = (stub: DurableObjectStub) => runInDurableObject(stub, (_i, state) => state.storage.getAlarm())

describe("shutdown during a tick", () => {
  it("a tick waiting on getState while shutdown runs starts nothing afterwards and leaves no alarm", async () => {
    const { pool, stub, tick } = newPool({ minContainers: 1 })
    await pool.warmup()
    await makeChecksDue(stub)
    const hold = standIn.hold("getState")
    const ticking = tick()
    await hold.entered
    expect(await pool.shutdown()).toEqual({ stopped: 1 })
    const startsAtShutdown = standIn.calls.starts
    hold.release()
    const report = await ticking
    expect(report).toMatchObject({ refilled: 0, nextAlarm: null })
    expect(standIn.calls.starts, "nothing started after shutdown").toBe(startsAtShutdown)
    expect(await pool.stats()).toMatchObject({ total: 0 })
    expect(await alarmOf(stub)).toBeNull()
  })
})

describe("clients with different configs", () => {
  it("a client with a 1 ms acquireTimeout does not end the lease another client's cache still serves", async () => {
    const { config, pool, stub, tick } = newPool({ minContainers: 0, acquireTimeout: 600_000 })
    const hasty = createWarmPool(env.WARM_POOL, env.CONTAINER, { ...config, acquireTimeout: 1, stickyCacheSize: 0 })
    const before = Date.now()
    const container = await pool.getContainer("s")
    expect((await hasty.getContainer("s")).id.toString()).toBe(container.id.toString())
    const [lease] = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec<{ expires_at: number }>(`SELECT expires_at FROM wp_slots WHERE session_id = 's'`).toArray())
    // The first client was granted min(stickyCacheTtl, acquireTimeout / 2) = 30 s of cache.
    expect(lease!.expires_at).toBeGreaterThanOrEqual(before + 30_000)
    expect(await tick()).toMatchObject({ expired: 0 })
    expect((await pool.stats()).sessions).toBe(1)
  })
})

describe("a changed containerBinding", () => {
  it("old containers are checked and stopped in their own namespace; new sessions get the new one", async () => {
    const { config, pool, settled, stub, tick } = newPool({ minContainers: 1, stickyCacheSize: 0 })
    const a = await pool.getContainer("a")
    await settled()
    const [oldWarm] = (await slotsOf(stub)).filter((slot) => slot.state === "warm")
    expect(oldWarm).toMatchObject({ binding: "CONTAINER" })
    const moved = { ...config, containerBinding: "NOT_A_NAMESPACE_HOLDER" }
    const client = createWarmPool(env.WARM_POOL, env.NOT_A_NAMESPACE_HOLDER, moved)
    const b = await client.getContainer("b")
    expect(stateOf(b)?.status).toBe("healthy")
    await settled()
    await makeChecksDue(stub)
    await tick()
    // The old warm container was stopped where it ran; the old lease was checked there and lives on.
    expect(standIn.containers.get(oldWarm!.container)?.status).toBe("stopped")
    expect(stateOf(a)?.status).toBe("healthy")
    expect((await slotsOf(stub)).find((slot) => slot.container === a.id.toString())).toMatchObject({ state: "acquired" })
    expect(await client.releaseContainer("a")).toMatchObject({ outcome: "stopped" })
    expect(stateOf(a)?.status).toBe("stopped")
    const bindings = (await slotsOf(stub)).map((slot) => slot.binding)
    expect(bindings.every((binding) => binding === "NOT_A_NAMESPACE_HOLDER")).toBe(true)
  })
})

describe("a failed health check of a leased container", () => {
  it("one failed getState keeps the session's container; a second in a row drops it", async () => {
    const { pool, stub, tick } = newPool({ minContainers: 0, stickyCacheSize: 0 })
    const a = await pool.getContainer("a")
    standIn.behaviour.failing.add("getState")
    await makeChecksDue(stub)
    const first = await tick()
    expect(first).toMatchObject({ dead: 0 })
    // Checked again soon: within min(healthCheckInterval, 5 s), not a whole interval later.
    expect(first.nextAlarm! - Date.now()).toBeLessThanOrEqual(5_000)
    expect((await pool.getContainer("a")).id.toString()).toBe(a.id.toString())
    await makeChecksDue(stub)
    expect(await tick()).toMatchObject({ dead: 1 })
    expect(stateOf(a)?.status).toBe("stopped")
  })
})
