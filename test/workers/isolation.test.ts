/**
 * Isolation in workerd, against the real WarmPool Durable Object: a shutdown while a tick waits on a
 * container, clients with different configs, a changed container binding, a health check that fails once.
 * The stand-in container holds the awaited call, so each race lands exactly where it should, with no sleeps.
 */
import { runInDurableObject } from "cloudflare:test"
import { afterEach, describe, expect, it } from "vitest"
import { newPool } from "./helpers.js"
import { standIn } from "./StandInContainer.js"

afterEach(() => standIn.reset())

const makeChecksDue = (stub: DurableObjectStub) =>
  runInDurableObject(stub, (_i, state) => void state.storage.sql.exec(`UPDATE wp_slots SET check_due_at = 0 WHERE check_due_at IS NOT NULL`))
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
