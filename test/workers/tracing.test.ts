/** The Effect client's spans, through the real Durable Object: cache misses and hits, and the pool's name. */
import { env } from "cloudflare:test"
import { createWarmPool, StickyCache, WarmPoolClient } from "cf-container-warm-pool"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeMemoryTracer } from "../support/MemoryTracer.js"
import { poolSpans } from "./TracedWarmPool.js"

let serial = 0

describe("client spans", () => {
  it("getContainer is a span: a cache miss, then a hit, naming the pool and container, never the session by default", async () => {
    const name = `traced-client-${++serial}-${crypto.randomUUID()}`
    const memory = makeMemoryTracer()
    const program = Effect.gen(function*() {
      const client = yield* WarmPoolClient
      const first = yield* client.getContainer("carol")
      yield* client.getContainer("carol")
      yield* client.stats
      return first.id.toString()
    })
    const container = await Effect.runPromise(
      program.pipe(
        Effect.provide(WarmPoolClient.layer(env.WARM_POOL, env.CONTAINER, { name, minContainers: 0 }, StickyCache.make())),
        Effect.withTracer(memory.tracer)
      )
    )
    const gets = memory.spans.filter((s) => s.name === "WarmPoolClient.getContainer")
    expect(gets.map((s) => s.attributes.get("warm_pool.outcome"))).toEqual(["cache-miss", "cache-hit"])
    expect(gets.every((s) => s.attributes.get("warm_pool.name") === name && s.attributes.get("warm_pool.container") === container)).toBe(true)
    expect(memory.spans.map((s) => s.name)).toContain("WarmPoolClient.stats")
    expect(memory.spans.some((s) => s.attributes.has("warm_pool.session_id"))).toBe(false)
  })

  it("carries the session id when the caller opts in", async () => {
    const name = `traced-client-${++serial}-${crypto.randomUUID()}`
    const memory = makeMemoryTracer()
    await Effect.runPromise(
      Effect.flatMap(WarmPoolClient, (client) => client.getContainer("dave")).pipe(
        Effect.provide(WarmPoolClient.layer(env.WARM_POOL, env.CONTAINER, { name, minContainers: 0, traceSessionIds: true })),
        Effect.withTracer(memory.tracer)
      )
    )
    expect(memory.spans.find((s) => s.name === "WarmPoolClient.getContainer")?.attributes.get("warm_pool.session_id")).toBe("dave")
  })
})

describe("pool spans", () => {
  it("a WarmPool subclass's static telemetry() layer receives the pool's spans", async () => {
    const name = `traced-pool-${++serial}-${crypto.randomUUID()}`
    poolSpans.clear()
    const pool = createWarmPool(env.TRACED_POOL, env.CONTAINER, { name, minContainers: 0 })
    const container = await pool.getContainer("erin")
    expect(poolSpans.tree("WarmPool.getContainer", ["warm_pool.name", "warm_pool.outcome"])).toEqual([
      `WarmPool.getContainer [warm_pool.name=${name}]`,
      `  WarmPool.assign [warm_pool.name=${name} warm_pool.outcome=cold]`,
      `    WarmPool.start [warm_pool.name=${name} warm_pool.outcome=started]`
    ])
    expect(poolSpans.spans.find((s) => s.name === "WarmPool.start")?.attributes.get("warm_pool.container")).toBe(container.id.toString())
  })
})
