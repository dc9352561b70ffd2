/**
 * Durable Object restarts in workerd: the pool is aborted (`ctx.abort()`) while it waits
 * at each awaited point of a start, an assignment, a release and an alarm. The stand-in
 * container holds the awaited call, so the abort lands exactly there, with no sleeps.
 * After the pool comes back and its alarm runs, its state must be consistent.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test"
import { PoolUnavailable } from "cf-container-warm-pool"
import { afterEach, describe, expect, it } from "vitest"
import { newPool, rejection, shutDownPools } from "./helpers.js"
import { type HeldMethod, standIn } from "./StandInContainer.js"

afterEach(async () => {
  standIn.reset() // releases held calls first, so every shutdown can finish
  await shutDownPools()
})

const poolStub = (name: string) => env.WARM_POOL.get(env.WARM_POOL.idFromName(name))

const stored = (name: string) =>
  runInDurableObject(poolStub(name), (_i, state) => ({
    slots: state.storage.sql.exec<{ container: string; state: string; session_id: string | null }>(
      `SELECT container, state, session_id FROM wp_slots ORDER BY container`
    ).toArray(),
    leases: state.storage.sql.exec<{ session_id: string; container: string }>(
      `SELECT session_id, container FROM wp_slots WHERE state = 'acquired' ORDER BY session_id`
    ).toArray(),
    counts: state.storage.sql.exec(`SELECT warming, starting, warm, acquired, stopping FROM wp_pool`).one(),
    alarm: null as number | null
  })).then(async (rows) => ({ ...rows, alarm: await runInDurableObject(poolStub(name), (_i, s) => s.storage.getAlarm()) }))

/** Resets the pool's Durable Object, as a deploy or an eviction would. */
const abortPool = (name: string) =>
  runInDurableObject(poolStub(name), (_i, state) => state.abort("test reset")).catch(() => undefined)

/** Stand-ins started since `since` was taken: the containers this test's pool started. */
const startsSnapshot = () => new Map([...standIn.containers].map(([id, c]) => [id, c.starts]))
const startedSince = (since: Map<string, number>) =>
  [...standIn.containers].filter(([id, c]) => c.starts > (since.get(id) ?? 0))

/** The state after a restart and a repairing alarm: nothing half-done, nothing untracked, counts exact. */
const expectConsistent = async (name: string, since: Map<string, number>) => {
  const { alarm, counts, leases, slots } = await stored(name)
  expect(slots.filter((s) => !["warm", "acquired"].includes(s.state)), "nothing left mid-start or mid-stop")
    .toEqual([])
  const recount: Record<string, number> = { warming: 0, starting: 0, warm: 0, acquired: 0, stopping: 0 }
  for (const slot of slots) recount[slot.state]!++
  expect(counts).toMatchObject(recount)
  for (const lease of leases) {
    expect(slots.find((s) => s.container === lease.container)).toMatchObject({
      state: "acquired",
      session_id: lease.session_id
    })
  }
  const tracked = new Set(slots.map((s) => s.container))
  for (const [id, container] of startedSince(since)) {
    if (container.status === "healthy") expect(tracked.has(id), `running container ${id} is tracked`).toBe(true)
    else expect(tracked.has(id), `stopped container ${id} is not tracked`).toBe(false)
  }
  if (slots.length > 0) expect(alarm, "a pool that holds containers has its alarm armed").not.toBeNull()
}

/** Aborts the pool while `method` is held inside `during`, then lets the held call finish. */
const abortDuring = async (name: string, method: HeldMethod, during: () => Promise<unknown>) => {
  const hold = standIn.hold(method)
  const call = during().then(() => undefined, (error: unknown) => error)
  await hold.entered
  await abortPool(name)
  const outcome = await call
  hold.release()
  await hold.finished
  // The alarm is still armed after the reset: the runtime will fire it.
  expect((await stored(name)).alarm).not.toBeNull()
  return outcome
}

const runAlarm = (name: string) => runDurableObjectAlarm(poolStub(name))
const makeChecksDue = (name: string) =>
  runInDurableObject(poolStub(name), (_i, state) => void state.storage.sql.exec(`UPDATE wp_slots SET check_due_at = 0 WHERE check_due_at IS NOT NULL`))

describe("restart safety: the pool is reset while it waits", () => {
  it("on the start of a cold start for a session: the running orphan is stopped, other leases kept", async () => {
    const since = startsSnapshot()
    const { name, pool } = newPool({ minContainers: 0, maxContainers: 3 })
    const keeper = await pool.getContainer("keeper")
    const outcome = await abortDuring(name, "start", () => pool.getContainer("a"))
    expect(outcome).toBeInstanceOf(PoolUnavailable)
    expect((await stored(name)).slots.map((s) => s.state).sort()).toEqual(["acquired", "starting"])
    expect(await runAlarm(name)).toBe(true)
    await poolStub(name).settled()
    await expectConsistent(name, since)
    expect((await stored(name)).slots).toHaveLength(1) // minContainers 0: the orphan is not kept
    expect((await pool.getContainer("keeper")).id.toString()).toBe(keeper.id.toString())
    expect(await pool.getContainer("a")).toBeDefined()
  })

  it("on the start of a refill: the orphan that came up is adopted as warm", async () => {
    const since = startsSnapshot()
    const { name, pool } = newPool({ minContainers: 1 })
    const keeper = await pool.getContainer("keeper")
    await poolStub(name).settled()
    // The next id takes the warm container; its replacement's start is where the reset lands.
    await abortDuring(name, "start", () => pool.getContainer("b").then(() => poolStub(name).settled()))
    expect(await runAlarm(name)).toBe(true)
    await poolStub(name).settled()
    await expectConsistent(name, since)
    expect(await pool.stats()).toMatchObject({ warm: 1, acquired: 2, warming: 0 })
    expect((await pool.getContainer("keeper")).id.toString()).toBe(keeper.id.toString())
  })

  it("on the destroy of a release: the stop is finished by the alarm", async () => {
    const since = startsSnapshot()
    const { name, pool } = newPool({ minContainers: 0 })
    const keeper = await pool.getContainer("keeper")
    await pool.getContainer("a")
    const outcome = await abortDuring(name, "destroy", () => pool.releaseContainer("a"))
    expect(outcome).toBeInstanceOf(PoolUnavailable)
    expect((await stored(name)).slots.map((s) => s.state).sort()).toEqual(["acquired", "stopping"])
    expect(await runAlarm(name)).toBe(true)
    await poolStub(name).settled()
    await expectConsistent(name, since)
    expect((await stored(name)).leases.map((l) => l.session_id)).toEqual(["keeper"])
    expect((await pool.getContainer("keeper")).id.toString()).toBe(keeper.id.toString())
  })

  it("on a health check in the alarm: the next alarm finishes the job, no lease lost", async () => {
    const since = startsSnapshot()
    const { name, pool } = newPool({ minContainers: 1 })
    const keeper = await pool.getContainer("keeper")
    await poolStub(name).settled()
    await makeChecksDue(name)
    await abortDuring(name, "getState", () => runAlarm(name))
    expect(await runAlarm(name)).toBe(true)
    await poolStub(name).settled()
    await expectConsistent(name, since)
    expect(await pool.stats()).toMatchObject({ warm: 1, acquired: 1 })
    expect((await pool.getContainer("keeper")).id.toString()).toBe(keeper.id.toString())
  })

  it("on the destroy of an expired lease in the alarm", async () => {
    const since = startsSnapshot()
    const { name, pool } = newPool({ minContainers: 0, acquireTimeout: 40 })
    await pool.getContainer("a")
    await scheduler.wait(60) // let the lease's deadline pass
    await abortDuring(name, "destroy", () => runAlarm(name))
    expect((await stored(name)).slots.map((s) => s.state)).toEqual(["stopping"])
    expect(await runAlarm(name)).toBe(true)
    await poolStub(name).settled()
    await expectConsistent(name, since)
    expect((await stored(name)).slots).toEqual([])
  })

  it("on the start of a refill in the alarm, after a dead warm container", async () => {
    const since = startsSnapshot()
    const { name, pool } = newPool({ minContainers: 1 })
    await pool.warmup()
    const [warm] = (await stored(name)).slots
    await env.CONTAINER.get(env.CONTAINER.idFromString(warm!.container)).kill()
    await makeChecksDue(name)
    await abortDuring(name, "start", () => runAlarm(name))
    expect(await runAlarm(name)).toBe(true)
    await poolStub(name).settled()
    await expectConsistent(name, since)
    expect(await pool.stats()).toMatchObject({ warm: 1, warming: 0, total: 1 })
  })

  it("a reset with nothing in flight keeps every lease and container", async () => {
    const { name, pool } = newPool({ minContainers: 1 })
    const a = await pool.getContainer("a")
    await poolStub(name).settled()
    const before = await stored(name)
    await abortPool(name)
    expect(await stored(name)).toEqual(before)
    expect((await pool.getContainer("a")).id.toString()).toBe(a.id.toString())
    expect(await rejection(Promise.reject(new Error("sanity")))).toBeInstanceOf(Error)
  })
})
