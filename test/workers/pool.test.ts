/**
 * The real WarmPool Durable Object, its SQLite storage and alarm, against stand-in containers.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test"
import { ContainerStartFailed, PoolExhausted } from "cf-container-warm-pool"
import { afterEach, describe, expect, it } from "vitest"
import { newPool, rejection, stateOf } from "./helpers.js"
import { standIn } from "./StandInContainer.js"

afterEach(() => standIn.reset())

const alarmOf = (stub: DurableObjectStub) =>
  runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())

describe("WarmPool Durable Object", () => {
  describe("pre-warm", () => {
    it("stats() is a pure read: it starts nothing and arms nothing", async () => {
      const { pool, settled, stub } = newPool({ minContainers: 3 })
      const starts = standIn.calls.starts
      expect(await pool.stats()).toMatchObject({ warm: 0, warming: 0, total: 0 })
      await settled()
      expect(standIn.calls.starts).toBe(starts)
      expect(await alarmOf(stub)).toBeNull()
    })

    it("the first assignment warms toward minContainers and arms the alarm", async () => {
      const { pool, settled, stub } = newPool({ minContainers: 3, healthCheckInterval: 60_000 })
      expect(await alarmOf(stub)).toBeNull()
      await pool.getContainer("first")
      const refills = await pool.stats()
      expect(refills.warming + refills.warm).toBe(3)
      await settled()
      expect(await pool.stats()).toMatchObject({ warm: 3, warming: 0, acquired: 1, total: 4 })
      const alarm = await alarmOf(stub)
      expect(alarm).not.toBeNull()
      expect(alarm! - Date.now()).toBeGreaterThan(50_000)
    })

    it("the alarm replaces a dead warm container and keeps the warm ones alive", async () => {
      const { pool, settled, stub } = newPool({ minContainers: 2 })
      await pool.warmup()
      const before = await runInDurableObject(stub, (_i, state) =>
        state.storage.sql.exec<{ container: string }>(`SELECT container FROM wp_slots WHERE state = 'warm'`).toArray()
      )
      const victim = before[0]!.container
      await runInDurableObject(stub, (_i, state) =>
        void state.storage.sql.exec(`UPDATE wp_slots SET check_due_at = 0 WHERE check_due_at IS NOT NULL`)
      )
      await env.CONTAINER.get(env.CONTAINER.idFromString(victim)).kill()
      const keepAlives = standIn.calls.keepAlives
      expect(await runDurableObjectAlarm(stub)).toBe(true)
      await settled()
      expect(standIn.calls.keepAlives).toBe(keepAlives + 1)
      expect(await pool.stats()).toMatchObject({ warm: 2, total: 2 })
      expect(await alarmOf(stub)).not.toBeNull()
    })

    it("arms no alarm while the pool is empty and idle", async () => {
      const { pool, settled, stub } = newPool({ minContainers: 0 })
      await pool.getContainer("a")
      await pool.releaseContainer("a")
      await settled()
      expect(await runDurableObjectAlarm(stub)).toBe(true)
      expect(await alarmOf(stub)).toBeNull()
    })
  })

  describe("sticky sessions", () => {
    it("the same id gets the same container from any handle; different ids differ", async () => {
      const { another, pool } = newPool({ minContainers: 0 })
      const a = await pool.getContainer("a")
      const again = await another().getContainer("a")
      const b = await pool.getContainer("b")
      expect(again.id.toString()).toBe(a.id.toString())
      expect(b.id.toString()).not.toBe(a.id.toString())
      await a.fetch("http://c/")
      await again.fetch("http://c/")
      expect(stateOf(a)?.requests).toBe(2)
    })

    it("container names are fresh Durable Object ids, not derived from session ids", async () => {
      const { pool, stub } = newPool({ minContainers: 0 })
      await pool.getContainer("alice")
      const names = await runInDurableObject(stub, (_i, state) =>
        state.storage.sql.exec<{ container: string }>(`SELECT container FROM wp_slots`).toArray()
      )
      expect(names).toHaveLength(1)
      expect(names[0]!.container).not.toContain("alice")
      expect(names[0]!.container).toMatch(/^[0-9a-f]{64}$/)
      expect(env.CONTAINER.idFromString(names[0]!.container).toString()).toBe(names[0]!.container)
    })
  })

  describe("assignment", () => {
    it("a new id gets a warm container with no start on its request path, and the pool refills", async () => {
      const { pool, settled } = newPool({ minContainers: 1 })
      await pool.warmup()
      const starts = standIn.calls.starts
      const warmBefore = (await pool.inspect()).containers.filter((c) => c.state === "warm").map((c) => c.name)
      expect(warmBefore).toHaveLength(1)
      const container = await pool.getContainer("new")
      // The container it answers was already warm: no start happened on the request path.
      expect(container.id.toString()).toBe(warmBefore[0])
      expect(stateOf(container)?.starts).toBe(1) // started before, by warmup
      expect(stateOf(container)?.status).toBe("healthy")
      await settled()
      expect(standIn.calls.starts).toBe(starts + 1) // the refill
      expect(await pool.stats()).toMatchObject({ warm: 1, acquired: 1 })
    })

    it("cold-starts within maxContainers, then fails with a typed PoolExhausted", async () => {
      const { pool } = newPool({ minContainers: 0, maxContainers: 2 })
      await pool.getContainer("a")
      await pool.getContainer("b")
      const error = await rejection(pool.getContainer("c"))
      expect(error).toBeInstanceOf(PoolExhausted)
      expect(error).toBeInstanceOf(Error)
      expect(error._tag).toBe("PoolExhausted")
      expect(error).toMatchObject({ acquired: 2, warm: 0, warming: 0, maxContainers: 2 })
      expect(error.message).toMatch(/exhausted/)
      expect(String(error)).not.toMatch(/FiberFailure/)
    })

    it("concurrent calls for one new id start one container and all get it", async () => {
      const { pool } = newPool({ minContainers: 0 })
      standIn.behaviour.startDelayMs = 50
      const starts = standIn.calls.starts
      const stubs = await Promise.all(Array.from({ length: 25 }, () => pool.getContainer("same")))
      expect(new Set(stubs.map((s) => s.id.toString())).size).toBe(1)
      expect(standIn.calls.starts - starts).toBe(1)
    })

    it("concurrent distinct ids never exceed maxContainers", async () => {
      const { pool, settled } = newPool({ minContainers: 1, maxContainers: 4 })
      standIn.behaviour.startDelayMs = 20
      const starts = standIn.calls.starts
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => pool.getContainer(`id-${i}`)))
      await settled()
      const won = results.filter((r) => r.status === "fulfilled")
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected")
      expect(won.length).toBeGreaterThanOrEqual(3)
      expect(won.length).toBeLessThanOrEqual(4)
      expect(lost.every((r) => r.reason instanceof PoolExhausted)).toBe(true)
      expect(standIn.calls.starts - starts).toBeLessThanOrEqual(4)
      expect((await pool.stats()).total).toBeLessThanOrEqual(4)
    })
  })

  describe("release", () => {
    it("returns the container to a short warm set, where the next new id gets it (no sticky cache)", async () => {
      const { pool } = newPool({ minContainers: 1, maxContainers: 1, stickyCacheSize: 0 })
      const a = await pool.getContainer("a")
      expect(await pool.releaseContainer("a")).toEqual({ released: true, outcome: "warm" })
      const b = await pool.getContainer("b")
      expect(b.id.toString()).toBe(a.id.toString())
    })

    it("stops the container when the warm set is at minContainers", async () => {
      const { pool, settled } = newPool({ minContainers: 1 })
      const a = await pool.getContainer("a")
      await settled()
      expect(await pool.releaseContainer("a")).toEqual({ released: true, outcome: "stopped" })
      expect(stateOf(a)?.status).toBe("stopped")
      expect(await pool.stats()).toMatchObject({ warm: 1, acquired: 0, total: 1, sessions: 0 })
    })

    it("releasing an unknown id is harmless and says so", async () => {
      const { pool } = newPool({ minContainers: 0 })
      await pool.getContainer("a")
      // Everything but the container-seconds, which accrue with time.
      const counts = async () => ({ ...(await pool.stats()), containerSeconds: null })
      const before = await counts()
      expect(await pool.releaseContainer("nobody")).toEqual({ released: false, outcome: "unknown-session" })
      expect(await counts()).toEqual(before)
    })
  })

  describe("lease expiry", () => {
    it("the alarm auto-releases an expired lease and recycles the container", async () => {
      const { pool, stub } = newPool({ minContainers: 0, acquireTimeout: 50 })
      const a = await pool.getContainer("a")
      await scheduler.wait(80) // let the lease's deadline pass
      expect(await runDurableObjectAlarm(stub)).toBe(true)
      expect(stateOf(a)?.status).toBe("stopped")
      expect((await pool.stats()).sessions).toBe(0)
      const fresh = await pool.getContainer("a")
      expect(fresh.id.toString()).not.toBe(a.id.toString())
    })

    it("each getContainer slides the deadline (no sticky cache)", async () => {
      const { pool, stub } = newPool({ minContainers: 0, acquireTimeout: 60_000, stickyCacheSize: 0 })
      await pool.getContainer("a")
      const deadline = () =>
        runInDurableObject(stub, (_i, state) =>
          state.storage.sql.exec<{ expires_at: number }>(`SELECT expires_at FROM wp_slots WHERE state = 'acquired'`).one().expires_at
        )
      const first = await deadline()
      await scheduler.wait(5) // let the clock move
      await pool.getContainer("a")
      expect(await deadline()).toBeGreaterThan(first)
    })
  })

  describe("health", () => {
    it("a container killed while acquired is dropped by the alarm; its id gets a fresh one", async () => {
      const { pool, settled, stub } = newPool({ minContainers: 1 })
      const a = await pool.getContainer("a")
      await settled()
      await (a as any).kill()
      await runInDurableObject(stub, (_i, state) => void state.storage.sql.exec(`UPDATE wp_slots SET check_due_at = 0 WHERE check_due_at IS NOT NULL`))
      const report = await pool.stats().then(() => stub.tick())
      expect(report.dead).toBe(1)
      // This isolate's cache still names the dead container (never another id's) until told.
      expect((await pool.getContainer("a")).id.toString()).toBe(a.id.toString())
      pool.invalidate("a")
      const fresh = await pool.getContainer("a")
      expect(fresh.id.toString()).not.toBe(a.id.toString())
      expect(stateOf(fresh)?.status).toBe("healthy")
    })
  })

  describe("startup", () => {
    it("a start slower than startupTimeout fails typed, and the container is torn down", async () => {
      const { pool } = newPool({ minContainers: 0, startupTimeout: 30, startRetries: 0 })
      standIn.behaviour.startDelayMs = 300
      const destroys = standIn.calls.destroys
      const error = await rejection(pool.getContainer("slow"))
      expect(error).toBeInstanceOf(ContainerStartFailed)
      expect(error.message).toMatch(/startupTimeout \(30 ms\)/)
      expect(standIn.calls.destroys).toBe(destroys + 1)
      expect(await pool.stats()).toMatchObject({ total: 0, startFailures: 1, sessions: 0 })
    })

    it("failed starts are retried and counted", async () => {
      const { pool } = newPool({ minContainers: 0, startRetries: 2 })
      standIn.behaviour.failNextStarts = 2
      const container = await pool.getContainer("flaky")
      expect(stateOf(container)).toMatchObject({ status: "healthy", starts: 3 })
      expect((await pool.stats()).startFailures).toBe(2)
    })

    it("passes the configured ports to startAndWaitForPorts", async () => {
      const { pool } = newPool({ minContainers: 0, ports: [8080, 9090] })
      const container = await pool.getContainer("ports")
      expect(stateOf(container)?.ports).toEqual([8080, 9090])
      const { pool: defaultPorts } = newPool({ minContainers: 0 })
      expect(stateOf(await defaultPorts.getContainer("none"))?.ports).toBeUndefined()
    })
  })

  describe("warmup", () => {
    it("starts up to count more, capped by maxContainers, resolving once warm", async () => {
      const { pool } = newPool({ minContainers: 0, maxContainers: 3 })
      await pool.getContainer("a")
      expect(await pool.warmup(10)).toEqual({ started: 2, warm: 2 })
      expect(await pool.stats()).toMatchObject({ warm: 2, acquired: 1, total: 3 })
    })

    it("fails typed when starts fail", async () => {
      const { pool } = newPool({ minContainers: 0, startRetries: 0 })
      standIn.behaviour.failNextStarts = 1
      const error = await rejection(pool.warmup(1))
      expect(error).toBeInstanceOf(ContainerStartFailed)
    })
  })

  describe("shutdown", () => {
    it("stops every container, clears leases and the alarm; the pool re-warms when used again", async () => {
      const { pool, settled, stub } = newPool({ minContainers: 2 })
      await pool.warmup()
      const a = await pool.getContainer("a")
      const result = await pool.shutdown()
      expect(result.stopped).toBeGreaterThanOrEqual(3)
      expect(stateOf(a)?.status).toBe("stopped")
      const rows = await runInDurableObject(stub, (_i, state) => ({
        slots: state.storage.sql.exec(`SELECT * FROM wp_slots`).toArray().length,
        leases: state.storage.sql.exec(`SELECT session_id, container, expires_at, cached_until FROM wp_slots WHERE state = 'acquired'`).toArray().length
      }))
      expect(rows).toEqual({ slots: 0, leases: 0 })
      expect(await alarmOf(stub)).toBeNull()
      await pool.getContainer("b")
      await settled()
      expect(await pool.stats()).toMatchObject({ warm: 2, acquired: 1 })
      expect(await alarmOf(stub)).not.toBeNull()
    })
  })

  describe("container death notice", () => {
    it("containerStopped removes the slot without waiting for the alarm", async () => {
      const { pool, settled, stub } = newPool({ minContainers: 0 })
      await pool.getContainer("a")
      const [row] = await runInDurableObject(stub, (_i, state) =>
        state.storage.sql.exec<{ container: string }>(`SELECT container FROM wp_slots`).toArray()
      )
      expect(await stub.containerStopped(row!.container)).toEqual({ ok: true, value: true })
      await settled()
      expect(await pool.stats()).toMatchObject({ total: 0, sessions: 0 })
    })
  })
})
