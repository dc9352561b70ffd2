/**
 * End to end, demand-driven: a burst grows the warm set, idling shrinks it back to the floor, and a new
 * revision replaces the warm containers, with `docker ps` as the witness.
 */
import { env as testEnv, runInDurableObject } from "cloudflare:test"
import type { WarmPool, WarmPoolOptions } from "cf-container-warm-pool"
import { createWarmPool } from "cf-container-warm-pool"
import { afterAll, describe, expect, it } from "vitest"
import type { Env } from "../../example/src/index.js"
import { testHooks } from "../../src/internal/testHooks.js"
import type { ContainerRow } from "./docker.js"

const env = testEnv as unknown as Env & { DOCKER: Fetcher }
const ps = async (): Promise<ReadonlyArray<ContainerRow>> => (await env.DOCKER.fetch("http://docker/ps")).json()
const dockerIdOf = (containerName: string) => env.CONTAINER.idFromString(containerName).toString()
const runningOf = async (names: ReadonlyArray<string>) =>
  (await ps()).filter((row) => row.state === "running" && names.some((name) => row.name.endsWith(dockerIdOf(name))))

/** Polls real, asynchronous state a bounded number of times. */
const eventually = async <A>(probe: () => Promise<A>, accept: (value: A) => boolean, tries = 80): Promise<A> => {
  let value = await probe()
  for (let i = 0; i < tries && !accept(value); i++) {
    await scheduler.wait(100)
    value = await probe()
  }
  return value
}

const name = `e2e-autoscale-${crypto.randomUUID().slice(0, 8)}`
const options: WarmPoolOptions = {
  name,
  autoscale: true,
  minContainers: 1,
  maxContainers: 6,
  idleTimeout: 1_000,
  autoscaleStableWindow: 6_000,
  autoscalePanicWindow: 3_000,
  stickyCacheSize: 0,
  revision: "r1"
}
const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(name))
const tick = () => runInDurableObject(stub, (instance: WarmPool) => instance[testHooks].tick())
const settled = () => runInDurableObject(stub, (instance: WarmPool) => instance[testHooks].settled())
const slots = () =>
  runInDurableObject(stub, (_instance, state) =>
    state.storage.sql.exec<{ container: string; state: string; revision: string | null }>(
      `SELECT container, state, revision FROM wp_slots`
    ).toArray().map((row) => ({ ...row })))

afterAll(async () => {
  await createWarmPool(env.WARM_POOL, env.CONTAINER, { ...options, revision: "r2" }).shutdown()
})

describe("demand-driven pool, real containers", () => {
  it("a burst grows the warm set, idling shrinks it to the floor, and a new revision replaces warm containers", async () => {
    const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, options)
    await pool.warmup()
    const burst = ["b1", "b2", "b3", "b4"]
    await Promise.all(burst.map((id) => pool.getContainer(id)))
    await settled()
    const grown = await pool.stats()
    expect(grown.target).toBeGreaterThan(1)
    expect(grown.warm).toBeGreaterThan(1)
    const held = (await slots()).map((slot) => slot.container)
    expect(await runningOf(held)).toHaveLength(grown.warm + grown.acquired)

    // The burst ends: released, its containers stop; the warm set idles back down to minContainers.
    for (const id of burst) await pool.releaseContainer(id)
    const shrunk = await eventually(async () => {
      await tick()
      await settled()
      return pool.stats()
    }, (stats) => stats.warm === 1 && stats.total === 1, 200)
    expect(shrunk).toMatchObject({ warm: 1, acquired: 0, total: 1, target: 1 })
    const [floor] = await slots()
    expect(await eventually(() => runningOf(held), (rows) => rows.length === 1)).toHaveLength(1)

    // A deploy: the first call with r2 gets an r2 container, and the r1 warm one is stopped in Docker.
    const deployed = createWarmPool(env.WARM_POOL, env.CONTAINER, { ...options, revision: "r2" })
    await deployed.getContainer("after-deploy")
    await settled()
    const after = await slots()
    expect(after.find((slot) => slot.container === floor!.container)).toBeUndefined()
    expect(after.every((slot) => slot.revision === "r2")).toBe(true)
    expect(await eventually(() => runningOf([floor!.container]), (rows) => rows.length === 0)).toEqual([])
    expect(await runningOf(after.map((slot) => slot.container))).toHaveLength(after.length)
  })
})
