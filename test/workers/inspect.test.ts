/** `inspect` and the new `stats()` figures through the real Durable Object, on both APIs and raw RPC. */
import { env } from "cloudflare:test"
import { InvalidArgument, WarmPoolClient } from "cf-container-warm-pool"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { newPool, rejection } from "./helpers.js"

describe("inspect", () => {
  it("pages through the pool's containers on the Promise API", async () => {
    const { pool, settled } = newPool({ minContainers: 2 })
    const held = await pool.getContainer("alice")
    await settled()
    const first = await pool.inspect({ limit: 2 })
    expect(first.containers).toHaveLength(2)
    expect(first.nextCursor).not.toBeNull()
    const second = await pool.inspect({ limit: 2, cursor: first.nextCursor })
    expect(second).toMatchObject({ nextCursor: null })
    const all = [...first.containers, ...second.containers]
    expect(all.map((c) => c.state).sort()).toEqual(["acquired", "warm", "warm"])
    expect(all.find((c) => c.name === held.id.toString())).toMatchObject({ state: "acquired", sessionId: "alice" })
    const stats = await pool.stats()
    expect(stats.newSessions).toEqual({ warm: 0, cold: 1, refused: 0 })
    expect(stats.starts.succeeded).toBe(3)
  })

  it("is on the Effect client, which refuses bad options before any round trip", async () => {
    const { config } = newPool({ minContainers: 1 })
    const program = Effect.gen(function*() {
      const client = yield* WarmPoolClient
      yield* client.warmup()
      const page = yield* client.inspect()
      const refused = yield* Effect.flip(client.inspect({ limit: 0 }))
      return { page, refused }
    })
    const { page, refused } = await Effect.runPromise(
      Effect.provide(program, WarmPoolClient.layer(env.WARM_POOL, env.CONTAINER, config))
    )
    expect(page.containers.map((c) => c.state)).toEqual(["warm"])
    expect(refused).toBeInstanceOf(InvalidArgument)
  })

  it("the pool itself refuses bad options over raw RPC, changing nothing", async () => {
    const { config, pool, stub } = newPool({ minContainers: 0 })
    await pool.getContainer("a")
    // All but the age, which grows.
    const containers = async () => (await pool.inspect()).containers.map((c) => ({ ...c, ageMs: 0 }))
    const before = await containers()
    for (const options of [{ limit: 0 }, { limit: 10_000 }, { cursor: 7 }, { extra: true }, "all"]) {
      const answer = await stub.inspect(options as never, config as never)
      expect(answer).toMatchObject({ ok: false, error: { _tag: "InvalidArgument", method: "inspect" } })
    }
    expect(await containers()).toEqual(before)
    expect(await rejection(pool.inspect({ limit: 1.5 }))).toBeInstanceOf(InvalidArgument)
  })
})
