/**
 * The Effect API: WarmPoolClient as a Layer, typed failures, and scoped acquisition.
 */
import { env } from "cloudflare:test"
import { InvalidConfig, PoolExhausted, StickyCache, WarmPoolClient } from "cf-container-warm-pool"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { countingNamespace } from "../support/countingNamespace.js"

let serial = 0
const layer = (options: Parameters<typeof WarmPoolClient.layer>[2] = {}) =>
  WarmPoolClient.layer(env.WARM_POOL, env.CONTAINER, { name: `effect-${++serial}-${crypto.randomUUID()}`, ...options })

describe("WarmPoolClient", () => {
  it("acquire holds a lease for the scope and releases it when the scope closes", async () => {
    const program = Effect.gen(function*() {
      const client = yield* WarmPoolClient
      const during = yield* Effect.scoped(
        Effect.gen(function*() {
          const container = yield* client.acquire("scoped")
          const response = yield* Effect.promise(() => container.fetch("http://c/"))
          expect(response.status).toBe(200)
          return yield* client.stats
        })
      )
      const after = yield* client.stats
      return { during, after }
    })
    const { after, during } = await Effect.runPromise(Effect.provide(program, layer({ minContainers: 0 })))
    expect(during).toMatchObject({ acquired: 1, sessions: 1 })
    expect(after).toMatchObject({ acquired: 0, sessions: 0 })
  })

  it("releases the lease when the scope fails", async () => {
    const program = Effect.gen(function*() {
      const client = yield* WarmPoolClient
      const exit = yield* Effect.exit(
        Effect.scoped(Effect.zipRight(client.acquire("doomed"), Effect.fail("boom" as const)))
      )
      return { exit, stats: yield* client.stats }
    })
    const { exit, stats } = await Effect.runPromise(Effect.provide(program, layer({ minContainers: 0 })))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(stats).toMatchObject({ acquired: 0, sessions: 0 })
  })

  it("fails with typed errors in the error channel", async () => {
    const program = Effect.gen(function*() {
      const client = yield* WarmPoolClient
      yield* client.getContainer("one")
      return yield* Effect.flip(client.getContainer("two"))
    })
    const error = await Effect.runPromise(Effect.provide(program, layer({ minContainers: 0, maxContainers: 1 })))
    expect(error).toBeInstanceOf(PoolExhausted)
  })

  it("the layer fails with InvalidConfig for bad options", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.provide(WarmPoolClient, layer({ maxContainers: -3 }))
    )
    expect(exit).toMatchObject({ _tag: "Failure" })
    const error = Exit.isFailure(exit) ? exit.cause : undefined
    expect(JSON.stringify(error)).toContain("maxContainers")
    expect(await Effect.runPromise(Effect.flip(Effect.provide(WarmPoolClient, layer({ maxContainers: -3 })))))
      .toBeInstanceOf(InvalidConfig)
  })

  it("serves sticky calls from the sticky cache; a scoped acquire asks the pool and leaves a sliding lease's entry", async () => {
    const rpc = countingNamespace(env.WARM_POOL)
    const cache = StickyCache.make()
    const program = Effect.gen(function*() {
      const client = yield* WarmPoolClient
      const first = yield* client.getContainer("s")
      const again = yield* client.getContainer("s")
      expect(again.id.toString()).toBe(first.id.toString())
      expect(rpc.count()).toBe(1)
      // A hold is counted by the pool, so it always takes a round trip, and one to leave.
      const held = yield* Effect.scoped(client.acquire("s"))
      expect(held.id.toString()).toBe(first.id.toString())
      expect([rpc.count("hold"), rpc.count("releaseHold"), rpc.count("releaseContainer")]).toEqual([1, 1, 0])
      // getContainer's lease slides on: the hold's end did not end it, and its cache entry stays.
      expect(cache.peek("s")?.container).toBe(first.id.toString())
      expect((yield* client.stats).sessions).toBe(1)
    })
    await Effect.runPromise(Effect.provide(
      program,
      WarmPoolClient.layer(rpc.namespace, env.CONTAINER, { name: `effect-${crypto.randomUUID()}`, minContainers: 0 }, cache)
    ))
  })
})
