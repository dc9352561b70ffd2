/**
 * Bad input through the Promise API and through raw RPC: typed errors, clear messages, no state lost.
 * Any Worker holding the binding can call the pool with anything, so every RPC method is covered.
 */
import { env, runInDurableObject } from "cloudflare:test"
import {
  createWarmPool,
  InvalidArgument,
  InvalidConfig,
  InvalidContainerBinding,
  InvalidSessionId,
  WarmPoolClient,
  WarmPoolError
} from "cf-container-warm-pool"
import { Effect, Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { newPool, rejection } from "./helpers.js"

const storedState = (stub: DurableObjectStub) =>
  runInDurableObject(stub, async (_i, state) => ({
    slots: state.storage.sql.exec(`SELECT * FROM wp_slots ORDER BY container`).toArray(),
    leases: state.storage.sql.exec<{ session_id: string }>(
      `SELECT session_id FROM wp_slots WHERE state = 'acquired' ORDER BY session_id`
    ).toArray(),
    pool: state.storage.sql.exec(`SELECT * FROM wp_pool`).toArray(),
    holders: state.storage.sql.exec(`SELECT * FROM wp_holders ORDER BY container, holder`).toArray(),
    alarm: await state.storage.getAlarm()
  }))

const tenMegabytes = "z".repeat(10 * 1024 * 1024)

/** Config values no pool may accept, with the field each error must name. */
const badConfigs: Array<readonly [unknown, string]> = [
  [{ minContainers: -1 }, "minContainers"],
  [{ maxContainers: NaN }, "maxContainers"],
  [{ acquireTimeout: Infinity }, "acquireTimeout"],
  [{ healthCheckInterval: -Infinity }, "healthCheckInterval"],
  [{ startupTimeout: "fast" }, "startupTimeout"],
  [{ maxContainers: "10" }, "maxContainers"],
  [{ minContainers: 1.5 }, "minContainers"],
  [{ minContainers: 9, maxContainers: 3 }, "minContainers"],
  [{ maxContainers: 1e12 }, "maxContainers"],
  [{ acquireTimeout: 2 ** 53 }, "acquireTimeout"],
  [{ startRetries: 11 }, "startRetries"],
  [{ ports: [0] }, "ports"],
  [{ ports: Array.from({ length: 100_000 }, () => 8080) }, "ports"],
  [{ name: "" }, "name"],
  [{ name: tenMegabytes }, "name"],
  [{ containerBinding: "not a binding!" }, "containerBinding"],
  [{ surprise: true }, "surprise"],
  [JSON.parse(`{"__proto__": {"minContainers": 5}}`), "__proto__"],
  [{ [tenMegabytes]: 1 }, "zzz"],
  ["not an object", "config"],
  [42, "config"],
  [null, "config"],
  [[1, 2], "config"]
]

const expectClear = (error: { readonly _tag: string; readonly message: string }, tag: string) => {
  expect(error._tag).toBe(tag)
  // Clear and bounded: never an echo of a huge input.
  expect(error.message.length).toBeGreaterThan(10)
  expect(error.message.length).toBeLessThan(300)
}

describe("config", () => {
  it("createWarmPool throws InvalidConfig naming the field, for every bad value", () => {
    for (const [options, field] of badConfigs) {
      let thrown: any
      try {
        createWarmPool(env.WARM_POOL, env.CONTAINER, options as any)
      } catch (error) {
        thrown = error
      }
      expect(thrown, JSON.stringify(options)?.slice(0, 80)).toBeInstanceOf(InvalidConfig)
      expectClear(thrown, "InvalidConfig")
      expect(thrown.field.startsWith(field)).toBe(true)
    }
    expect(() => createWarmPool(env.WARM_POOL, env.CONTAINER, { minContainers: 5, maxContainers: 2 })).toThrow(
      /minContainers must not exceed maxContainers/
    )
  })

  it("WarmPoolClient.make fails with InvalidConfig", async () => {
    const result = await Effect.runPromise(Effect.either(WarmPoolClient.make(env.WARM_POOL, env.CONTAINER, { maxContainers: 0 })))
    expect(Either.isLeft(result) && result.left).toBeInstanceOf(InvalidConfig)
  })

  it("is persisted in the Durable Object, and a changed config takes effect on the next call", async () => {
    const { config, name, pool, settled, stub } = newPool({ minContainers: 1 })
    await pool.stats()
    await settled()
    const stored = await runInDurableObject(stub, (_i, state) =>
      JSON.parse(state.storage.sql.exec<{ config: string }>(`SELECT config FROM wp_pool`).one().config)
    )
    expect(stored).toMatchObject({ name, minContainers: 1, maxContainers: 10 })
    const changed = createWarmPool(env.WARM_POOL, env.CONTAINER, { ...config, minContainers: 3 })
    expect((await changed.stats()).config.minContainers).toBe(3)
    await changed.warmup()
    expect((await changed.stats()).warm).toBe(3)
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
  it("the Promise API rejects bad ids with InvalidSessionId, for both methods that take one", async () => {
    const { pool } = newPool({ minContainers: 0 })
    for (const id of ["", "x".repeat(513), tenMegabytes, 42, null, undefined, { id: "a" }, ["a"], "a\uD800", "a\u0000b"]) {
      for (const call of [pool.getContainer, pool.releaseContainer]) {
        const error = await rejection(call(id as string))
        expect(error).toBeInstanceOf(InvalidSessionId)
        expectClear(error, "InvalidSessionId")
      }
    }
  })

  it("ids with SQL metacharacters and unicode are plain data", async () => {
    const { pool, stub } = newPool({ minContainers: 0 })
    const ids = ["'; DROP TABLE wp_slots; --", "\" OR 1=1 --", "日本語🙂", "%", "_", "Robert'); DELETE FROM wp_leases;--"]
    const stubs = await Promise.all(ids.map((id) => pool.getContainer(id)))
    expect(new Set(stubs.map((s) => s.id.toString())).size).toBe(ids.length)
    expect(await pool.stats()).toMatchObject({ acquired: ids.length, sessions: ids.length })
    const stored = (await storedState(stub)).leases.map((l) => l.session_id).sort()
    expect(stored).toEqual([...ids].sort())
    for (const id of ids) expect(await pool.releaseContainer(id)).toMatchObject({ released: true })
  })
})

describe("raw RPC: every method, every bad argument", () => {
  it("each call gets a typed error with a clear message, and the stored state is unchanged", async () => {
    const { config, pool, settled, stub } = newPool({ minContainers: 1 })
    await pool.getContainer("holder")
    await settled()
    const before = await storedState(stub)
    const rpc = stub as unknown as Record<string, (...args: Array<unknown>) => Promise<any>>
    const badIds: Array<unknown> = ["", tenMegabytes, 7, { id: "a" }, ["a"], null, undefined, true, "a\uD800"]
    const badCounts: Array<unknown> = [-1, 1.5, "3", NaN, Infinity, 1e9, null, { n: 1 }]
    const cases: Array<readonly [string, ReadonlyArray<unknown>, string]> = [
      ...badIds.flatMap((id) => [
        ["getContainer", [id, config], "InvalidSessionId"] as const,
        ["releaseContainer", [id, config], "InvalidSessionId"] as const,
        ["hold", [id, "h", config], "InvalidSessionId"] as const,
        ["releaseHold", [id, "h", config], "InvalidSessionId"] as const
      ]),
      ...badIds.flatMap((holder) => [
        ["hold", ["holder", holder, config], "InvalidArgument"] as const,
        ["renewHold", ["holder", holder, config], "InvalidArgument"] as const,
        ["releaseHold", ["holder", holder, config], "InvalidArgument"] as const
      ]),
      ...badConfigs.flatMap(([options]) => [
        ["getContainer", ["holder", options], "InvalidConfig"] as const,
        ["releaseContainer", ["holder", options], "InvalidConfig"] as const,
        ["hold", ["holder", "h", options], "InvalidConfig"] as const,
        ["stats", [options], "InvalidConfig"] as const,
        ["warmup", [1, options], "InvalidConfig"] as const,
        ["shutdown", [options], "InvalidConfig"] as const
      ]),
      // Over RPC the config is required: a caller that leaves it out gets no default pool.
      ["getContainer", ["holder"], "InvalidConfig"],
      ["getContainer", [], "InvalidSessionId"],
      ["releaseContainer", ["holder"], "InvalidConfig"],
      ["stats", [], "InvalidConfig"],
      ["warmup", [1], "InvalidConfig"],
      ...badCounts.map((count) => ["warmup", [count, config], "InvalidArgument"] as const),
      ...[12, "", tenMegabytes, null, { container: "x" }, ["x"]].map(
        (container) => ["containerStopped", [container], "InvalidArgument"] as const
      )
    ]
    for (const [method, args, tag] of cases) {
      const result = await rpc[method]!(...args)
      const label = `${method}(${args.map((a) => JSON.stringify(a)?.slice(0, 40)).join(", ")})`
      expect(result.ok, label).toBe(false)
      // Rebuilt as the client rebuilds it, so its message is what a caller reads.
      expectClear(Schema.decodeUnknownSync(WarmPoolError)(result.error), tag)
    }
    // Calls that name nothing the pool holds are answered, and change nothing either.
    expect(await rpc.containerStopped!("unknown")).toEqual({ ok: true, value: false })
    expect(await rpc.releaseContainer!("nobody", config)).toEqual({
      ok: true,
      value: { released: false, outcome: "unknown-session" }
    })
    expect(await rpc.releaseHold!("holder", "never-held", config)).toEqual({
      ok: true,
      value: { outcome: "not-held", holdersLeft: 0 }
    })
    expect(await storedState(stub)).toEqual(before)
  })

  it("a raw getContainer with a 10 MB id or config leaves the pool serving as before", async () => {
    const { config, pool, settled, stub } = newPool({ minContainers: 1 })
    const holder = await pool.getContainer("holder")
    await settled()
    // Raw RPC, as any Worker holding the binding could send it: untyped on purpose.
    const raw = stub as unknown as { getContainer: (...args: Array<unknown>) => Promise<unknown> }
    expect(await raw.getContainer(tenMegabytes, config)).toMatchObject({ ok: false })
    expect(await raw.getContainer("x", { ...config, name: tenMegabytes })).toMatchObject({ ok: false })
    expect((await pool.getContainer("holder")).id.toString()).toBe(holder.id.toString())
  })

  it("the Promise API validates warmup counts before any call", async () => {
    const { pool, stub } = newPool({ minContainers: 0 })
    await pool.stats()
    const before = await storedState(stub)
    for (const count of [-1, 1.5, NaN, Infinity, 1e9, "3"]) {
      const error = await rejection(pool.warmup(count as number))
      expect(error).toBeInstanceOf(InvalidArgument)
      expectClear(error, "InvalidArgument")
    }
    expect(await storedState(stub)).toEqual(before)
  })
})
