/**
 * The start governor through the real WarmPool Durable Object, in workerd: stand-in containers refuse
 * starts with `@cloudflare/containers` 0.3.7's own error texts (and the platform's instance-limit message),
 * or start slowly, and the pool's learned cap, breaker and start estimate show in `stats()`. How the
 * breaker cools down and closes, and how a probe raises the cap, run on `TestClock` in
 * test/unit/StartGovernor.test.ts: here their real cooldowns (10 s, 30 s) would only be waited out.
 */
import { env } from "cloudflare:test"
import { ContainerStartFailed, createWarmPool, PoolExhausted } from "cf-container-warm-pool"
import { afterEach, describe, expect, it } from "vitest"
import { newPool, rejection, shutDownPools, stateOf } from "./helpers.js"
import { NO_CONTAINER_INSTANCE_ERROR, RATE_LIMITED_ERROR, standIn, UNEXPECTED_EXIT_ERROR } from "./StandInContainer.js"

// The instance limit counts every running stand-in in the isolate: no other test's pool may hold one.
afterEach(async () => {
  standIn.reset()
  await shutDownPools()
})

// One attempt per start, no refills: every start a test makes is one the test asked for.
const governed = { minContainers: 0, maxContainers: 10, startRetries: 0, stickyCacheSize: 0 }

describe("the learned instance limit", () => {
  const refusals = [
    {
      name: "the instance limit, as Container.startAndWaitForPorts throws it",
      text: NO_CONTAINER_INSTANCE_ERROR,
      // No more instances than run now (stand-ins of earlier tests included).
      refuse: (_text: string) => void (standIn.behaviour.instanceLimit = standIn.running())
    },
    {
      name: "the platform's \"Maximum number of running container instances exceeded\"",
      text: "Maximum number of running container instances exceeded",
      refuse: (text: string) => {
        standIn.behaviour.failNextStarts = 1
        standIn.behaviour.startError = text
      }
    }
  ]

  it.each(refusals)("$name caps the pool at what it holds: a new session gets PoolExhausted with no start", async ({ refuse, text }) => {
    const { pool, settled } = newPool(governed)
    await pool.getContainer("a")
    await pool.getContainer("b")
    refuse(text)
    const refused = await rejection(pool.getContainer("c"))
    expect(refused).toBeInstanceOf(ContainerStartFailed)
    expect(refused.reason).toContain(text)
    await settled()
    // A limit is capacity, not a broken image: the breaker stays closed.
    expect(await pool.stats()).toMatchObject({
      total: 2,
      sessions: 2,
      learnedCap: 2,
      breaker: { state: "closed", failuresInARow: 0 }
    })

    const starts = standIn.calls.starts
    const exhausted = await rejection(pool.getContainer("d"))
    expect(exhausted).toBeInstanceOf(PoolExhausted)
    expect(exhausted.maxContainers, "the learned cap, not maxContainers").toBe(2)
    expect(standIn.calls.starts, "no doomed start").toBe(starts)

    // Below the learned cap again, a new session starts as usual.
    await pool.releaseContainer("a")
    await settled()
    const e = await pool.getContainer("e")
    expect(stateOf(e)?.status).toBe("healthy")
    expect(standIn.calls.starts).toBe(starts + 1)
    expect((await pool.stats()).learnedCap).toBe(2)
  })
})

describe("the start circuit breaker", () => {
  it("opens after 5 failed starts (slow ones and @cloudflare/containers' refusals); fails cold starts fast and pauses refills", async () => {
    const { config, pool, settled, stub } = newPool({ ...governed, startupTimeout: 1_000 })
    // Two starts that do not answer within startupTimeout (generous: a loaded machine delays every call)…
    standIn.behaviour.startDelayMs = 3_000
    for (const id of ["a", "b"]) {
      const error = await rejection(pool.getContainer(id))
      expect(error).toBeInstanceOf(ContainerStartFailed)
      expect(error.reason).toContain("not ready within startupTimeout (1000 ms)")
    }
    standIn.behaviour.startDelayMs = 0
    // …then three refused with the library's texts: rate limited (a 429, never a limit) and a crash on start.
    standIn.behaviour.failNextStarts = 2
    standIn.behaviour.startError = RATE_LIMITED_ERROR
    for (const id of ["c", "d"]) expect((await rejection(pool.getContainer(id))).reason).toContain(RATE_LIMITED_ERROR)
    expect((await pool.stats()).breaker).toMatchObject({ state: "closed", failuresInARow: 4 })
    standIn.behaviour.failNextStarts = 1
    standIn.behaviour.startError = UNEXPECTED_EXIT_ERROR
    expect((await rejection(pool.getContainer("e"))).reason).toContain(UNEXPECTED_EXIT_ERROR)
    await settled()

    const stats = await pool.stats()
    expect(stats).toMatchObject({ total: 0, learnedCap: null, breaker: { state: "open", failuresInARow: 5 } })
    expect(stats.breaker!.reopensAt).toBeGreaterThan(Date.now())

    // A cold start fails fast, saying why, and starts nothing.
    const starts = standIn.calls.starts
    const fast = await rejection(pool.getContainer("f"))
    expect(fast).toBeInstanceOf(ContainerStartFailed)
    expect(fast.attempts).toBe(0)
    expect(fast.reason).toContain("circuit breaker is open")
    // Refills pause too: a client asking for a warm floor of 2 gets no start from the tick.
    const asksForTwo = createWarmPool(env.WARM_POOL, env.CONTAINER, { ...config, minContainers: 2 })
    expect(await asksForTwo.stats()).toMatchObject({ warm: 0, target: 2 })
    await stub.tick()
    await settled()
    expect(standIn.calls.starts, "no start while the breaker is open").toBe(starts)
    expect(await pool.stats()).toMatchObject({ warm: 0, warming: 0, breaker: { state: "open" } })
  })
})

describe("slow starts", () => {
  it("a slow stand-in's start time is what the warm target assumes", async () => {
    const { pool, settled } = newPool({ ...governed, autoscale: true })
    standIn.behaviour.startDelayMs = 300
    const a = await pool.getContainer("a")
    await settled()
    expect(stateOf(a)?.status).toBe("healthy")
    const { startMs, arrivalsPerSecond, target } = await pool.stats()
    expect(startMs, "measured, not the 2 s assumed before any start").toBeGreaterThanOrEqual(300)
    expect(startMs).not.toBe(2_000)
    expect(arrivalsPerSecond).toBeGreaterThan(0)
    expect(target).toBeGreaterThanOrEqual(1)
  })
})
