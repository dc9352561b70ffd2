/**
 * Bad input through the Promise API and through raw RPC: typed errors, clear messages, no state lost.
 */
import { env, runInDurableObject } from "cloudflare:test"
import {
  createWarmPool,
  InvalidArgument,
  InvalidConfig,
  InvalidContainerBinding,
  InvalidSessionId
} from "cf-container-warm-pool"
import { describe, expect, it } from "vitest"
import { newPool, rejection } from "./helpers.js"

const storedState = (stub: DurableObjectStub) =>
  runInDurableObject(stub, (_i, state) => ({
    slots: state.storage.sql.exec(`SELECT * FROM wp_slots ORDER BY container`).toArray(),
    leases: state.storage.sql.exec(`SELECT * FROM wp_leases ORDER BY session_id`).toArray(),
    counts: state.storage.sql.exec(`SELECT * FROM wp_counts ORDER BY key`).toArray(),
    meta: state.storage.sql.exec(`SELECT * FROM wp_meta ORDER BY key`).toArray()
  }))

describe("config", () => {
  it("createWarmPool throws InvalidConfig naming the field", () => {
    const attempt = () => createWarmPool(env.WARM_POOL, env.CONTAINER, { minContainers: 5, maxContainers: 2 })
    expect(attempt).toThrow(InvalidConfig)
    expect(attempt).toThrow(/minContainers must not exceed maxContainers/)
  })

  it("is persisted in the Durable Object, and a changed config takes effect on the next call", async () => {
    const { config, name, pool, settled, stub } = newPool({ minContainers: 1 })
    await pool.stats()
    await settled()
    const stored = await runInDurableObject(stub, (_i, state) =>
      JSON.parse(state.storage.sql.exec<{ value: string }>(`SELECT value FROM wp_meta WHERE key = 'config'`).one().value)
    )
    expect(stored).toMatchObject({ name, minContainers: 1, maxContainers: 10 })
    const changed = createWarmPool(env.WARM_POOL, env.CONTAINER, { ...config, minContainers: 3 })
    expect((await changed.stats()).config.minContainers).toBe(3)
    await changed.warmup()
    expect((await changed.stats()).warm).toBe(3)
  })

  it("the pool rejects bad config sent over raw RPC, leaving its state unchanged", async () => {
    const { pool, settled, stub } = newPool({ minContainers: 1 })
    await pool.getContainer("a")
    await settled() // the refill must be done, or it changes the rows under the comparison
    const before = await storedState(stub)
    const bad: Array<unknown> = [
      { minContainers: -1 },
      { maxContainers: NaN },
      { acquireTimeout: Infinity },
      { healthCheckInterval: "fast" },
      { minContainers: 9, maxContainers: 3 },
      { maxContainers: 1e12 },
      { surprise: true },
      "not an object",
      null
    ]
    for (const options of bad) {
      const result = await stub.getContainer("a", options)
      expect(result.ok).toBe(false)
      expect((result as any).error._tag).toBe("InvalidConfig")
    }
    expect(await storedState(stub)).toEqual(before)
  })

  it("a missing or wrong container binding is a typed error", async () => {
    const missing = newPool({ containerBinding: "MISSING" })
    const error = await rejection(missing.pool.getContainer("a"))
    expect(error).toBeInstanceOf(InvalidContainerBinding)
    expect(error.message).toMatch(/"MISSING" is not defined/)
    const plain = newPool({ containerBinding: "PLAIN_VALUE" })
    expect((await rejection(plain.pool.stats())).message).toMatch(/not a Durable Object namespace/)
  })
})

describe("session ids", () => {
  it("the Promise API rejects bad ids with InvalidSessionId", async () => {
    const { pool } = newPool({ minContainers: 0 })
    for (const id of ["", "x".repeat(513), 42, null, undefined, "a\uD800"]) {
      const error = await rejection(pool.getContainer(id as string))
      expect(error).toBeInstanceOf(InvalidSessionId)
      expect(error.message.length).toBeLessThan(200)
    }
    expect(await rejection(pool.releaseContainer(""))).toBeInstanceOf(InvalidSessionId)
  })

  it("the pool validates ids sent over raw RPC, leaving its state unchanged", async () => {
    const { config, pool, stub } = newPool({ minContainers: 0 })
    await pool.getContainer("a")
    const before = await storedState(stub)
    for (const id of ["", "z".repeat(10 * 1024 * 1024), 7, { id: "a" }, ["a"], null]) {
      const result = await stub.getContainer(id, config)
      expect(result).toMatchObject({ ok: false, error: { _tag: "InvalidSessionId" } })
      const released = await stub.releaseContainer(id, config)
      expect(released).toMatchObject({ ok: false, error: { _tag: "InvalidSessionId" } })
    }
    expect(await storedState(stub)).toEqual(before)
  })

  it("ids with SQL metacharacters and unicode are plain data", async () => {
    const { pool } = newPool({ minContainers: 0 })
    const ids = ["'; DROP TABLE wp_slots; --", "\" OR 1=1 --", "日本語🙂", "%", "_"]
    const stubs = await Promise.all(ids.map((id) => pool.getContainer(id)))
    expect(new Set(stubs.map((s) => s.id.toString())).size).toBe(ids.length)
    expect(await pool.stats()).toMatchObject({ acquired: ids.length, sessions: ids.length })
    for (const id of ids) expect(await pool.releaseContainer(id)).toMatchObject({ released: true })
  })
})

describe("other RPC arguments", () => {
  it("warmup counts are validated on both sides", async () => {
    const { config, pool, stub } = newPool({ minContainers: 0 })
    expect(await rejection(pool.warmup(-1))).toBeInstanceOf(InvalidArgument)
    expect(await rejection(pool.warmup(1.5))).toBeInstanceOf(InvalidArgument)
    for (const count of [-1, "3", NaN, 1e9]) {
      expect(await stub.warmup(count, config)).toMatchObject({ ok: false, error: { _tag: "InvalidArgument" } })
    }
    expect(await stub.containerStopped(12)).toMatchObject({ ok: false, error: { _tag: "InvalidArgument" } })
    expect(await stub.containerStopped("unknown")).toEqual({ ok: true, value: false })
  })
})
