/**
 * Container death, a concurrency storm and failing alarm steps, in workerd against the real
 * WarmPool Durable Object and stand-in containers.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test"
import { notifyContainerStopped, PoolExhausted } from "cf-container-warm-pool"
import { afterEach, describe, expect, it } from "vitest"
import { newPool, shutDownPools, stateOf } from "./helpers.js"
import { standIn } from "./StandInContainer.js"

afterEach(async () => {
  standIn.reset() // releases held calls first, so every shutdown can finish
  await shutDownPools()
})

const slotsOf = (stub: DurableObjectStub) =>
  runInDurableObject(stub, (_i, state) =>
    state.storage.sql.exec<{ container: string; state: string }>(`SELECT container, state FROM wp_slots`).toArray()
  )
const alarmOf = (stub: DurableObjectStub) => runInDurableObject(stub, (_i, state) => state.storage.getAlarm())
const makeChecksDue = (stub: DurableObjectStub) =>
  runInDurableObject(stub, (_i, state) => void state.storage.sql.exec(`UPDATE wp_slots SET check_due_at = 0 WHERE check_due_at IS NOT NULL`))

describe("container death", () => {
  it("a container that dies while acquired is found by the next alarm; its id gets a new container", async () => {
    // The pool's side of it; how a client's sticky cache catches up is tested in sticky-cache.test.ts.
    const { pool, settled, stub } = newPool({ minContainers: 0, stickyCacheSize: 0 })
    const a = await pool.getContainer("a")
    await (a as any).kill()
    // Until the alarm runs, the pool does not know.
    expect((await pool.getContainer("a")).id.toString()).toBe(a.id.toString())
    await makeChecksDue(stub)
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    await settled()
    const fresh = await pool.getContainer("a")
    expect(fresh.id.toString()).not.toBe(a.id.toString())
    expect(stateOf(fresh)?.status).toBe("healthy")
  })

  it("notifyContainerStopped from the container's onStop removes the slot without waiting for the alarm", async () => {
    const { name, pool, settled, stub } = newPool({
      minContainers: 0,
      healthCheckInterval: 3_600_000,
      stickyCacheSize: 0 // the pool's side; see sticky-cache.test.ts for the cache's
    })
    const a = await pool.getContainer("a")
    const alarm = await alarmOf(stub)
    // The stand-in dies and, as a user's onStop would, calls the helper with its own ctx.
    expect(await (a as any).dieAndNotify(name)).toBe(true)
    await settled()
    expect(await slotsOf(stub)).toEqual([])
    expect(await pool.stats()).toMatchObject({ total: 0, sessions: 0 })
    expect(await alarmOf(stub), "the alarm did not run").toBe(alarm)
    const fresh = await pool.getContainer("a")
    expect(fresh.id.toString()).not.toBe(a.id.toString())
    // A second notice, or one for a container the pool does not hold, changes nothing.
    expect(await (a as any).dieAndNotify(name)).toBe(false)
  })

  it("the helper also takes the container's name, and reports typed errors", async () => {
    const { name, pool, stub } = newPool({ minContainers: 0 })
    await pool.getContainer("a")
    const [slot] = await slotsOf(stub)
    expect(await notifyContainerStopped(env.WARM_POOL, slot!.container, { name })).toBe(true)
    await expect(notifyContainerStopped(env.WARM_POOL, "x", { name: "" })).rejects.toMatchObject({
      _tag: "InvalidConfig",
      field: "name"
    })
    await expect(notifyContainerStopped(env.WARM_POOL, "", { name })).rejects.toMatchObject({
      _tag: "InvalidArgument"
    })
  })
})

describe("concurrency storm", () => {
  it("1,000 concurrent new ids on maxContainers 10: exactly 10 succeed, the rest are exhausted, none hangs", async () => {
    const { pool, settled } = newPool({ minContainers: 0, maxContainers: 10 })
    standIn.behaviour.startDelayMs = 5 // starts overlap with the flood of calls
    const starts = standIn.calls.starts
    const ids = Array.from({ length: 1_000 }, (_, i) => `storm-${i}`)
    const results = await Promise.allSettled(ids.map((id) => pool.getContainer(id)))
    const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [{ id: ids[i]!, stub: r.value }] : []))
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected")
    expect(won).toHaveLength(10)
    expect(lost).toHaveLength(990)
    expect(lost.every((r) => r.reason instanceof PoolExhausted)).toBe(true)
    expect(new Set(won.map((w) => w.stub.id.toString())).size).toBe(10)
    expect(standIn.calls.starts - starts).toBeLessThanOrEqual(10)
    expect(await pool.stats()).toMatchObject({ acquired: 10, total: 10, sessions: 10 })

    const released = await Promise.all(won.map((w) => pool.releaseContainer(w.id)))
    expect(released.every((r) => r.released)).toBe(true)
    await settled()
    expect(await pool.stats()).toMatchObject({ acquired: 0, total: 0 })
    const fresh = await Promise.all(["after-1", "after-2"].map((id) => pool.getContainer(id)))
    expect(fresh.every((stub) => stateOf(stub)?.status === "healthy")).toBe(true)
  })
})

describe("alarm failure", () => {
  it("a storage error in an alarm step re-arms the alarm, and the next tick repairs", async () => {
    const { pool, settled, stub } = newPool({ minContainers: 1, acquireTimeout: 40 })
    const a = await pool.getContainer("a")
    await settled()
    await scheduler.wait(60) // the lease's deadline passes
    // Drop the index of due slots: the step that reads them fails like a broken statement would.
    await runInDurableObject(stub, (_i, state) => void state.storage.sql.exec(`DROP INDEX wp_slots_due`))
    const failed = await stub.tick()
    expect(failed.failures.length).toBeGreaterThan(0)
    expect(failed.nextAlarm).not.toBeNull()
    expect(await alarmOf(stub)).toBe(failed.nextAlarm)
    await runInDurableObject(stub, (_i, state) =>
      void state.storage.sql.exec(`CREATE INDEX wp_slots_due ON wp_slots (check_due_at) WHERE check_due_at IS NOT NULL`))
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    await settled()
    expect(stateOf(a)?.status).toBe("stopped")
    expect(await pool.stats()).toMatchObject({ acquired: 0, sessions: 0, warm: 1, total: 1 })
    expect(await alarmOf(stub)).not.toBeNull()
  })

  it("a stub error (getState and destroy throw) re-arms the alarm; the next tick stops the dead container", async () => {
    const { pool, settled, stub } = newPool({ minContainers: 1 })
    await pool.warmup()
    const [warm] = await slotsOf(stub)
    await env.CONTAINER.get(env.CONTAINER.idFromString(warm!.container)).kill()
    await makeChecksDue(stub)
    standIn.behaviour.failing.add("getState")
    standIn.behaviour.failing.add("destroy")
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    // Unreadable counts as dead; its destroy failed, so it stays tracked as stopping, with a refill beside it.
    await settled()
    expect((await slotsOf(stub)).map((s) => s.state).sort()).toEqual(["stopping", "warm"])
    expect(await alarmOf(stub)).not.toBeNull()
    standIn.behaviour.failing.clear()
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    await settled()
    expect((await slotsOf(stub)).map((s) => s.state)).toEqual(["warm"])
    expect(await pool.stats()).toMatchObject({ warm: 1, total: 1, stopping: 0 })
  })
})
