import { env } from "cloudflare:test"
import type { WarmPoolOptions } from "cf-container-warm-pool"
import { createWarmPool } from "cf-container-warm-pool"
import { standIn } from "./StandInContainer.js"

let serial = 0
// On globalThis: test files re-evaluate this module, and an earlier file's pools live on in its storage.
const openPools: Array<WarmPoolOptions> = ((globalThis as any).__warmPoolTestPools ??= [])

/** Every test gets its own pool: one namespace hosts many pools, by name. */
export const newPool = (options: WarmPoolOptions = {}) => {
  const name = `pool-${++serial}-${crypto.randomUUID()}`
  const config = { name, ...options }
  const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, config)
  const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(name))
  openPools.push(config)
  return {
    name,
    config,
    pool,
    stub,
    /** Waits for the pool's background refills and stops. */
    settled: () => stub.settled(),
    /** Runs one alarm tick now. */
    tick: () => stub.tick(),
    /** A second handle, as another Worker isolate would make. */
    another: () => createWarmPool(env.WARM_POOL, env.CONTAINER, config)
  }
}

/**
 * Shuts down every pool made since the last call. Stand-ins and their counters are shared by all pools in an
 * isolate, so a test that counts starts must not see an earlier test's pool refill on its alarm.
 */
export const shutDownPools = async () => {
  const configs = openPools.splice(0)
  // Fresh handles: a stub from an earlier file's module is no longer usable.
  const shutdowns = Promise.allSettled(configs.map((config) => createWarmPool(env.WARM_POOL, env.CONTAINER, config).shutdown()))
  // A cap, not a wait for anything: a pool whose containers were made to hang settles within its own bound.
  await Promise.race([shutdowns, scheduler.wait(5_000)])
}

export const stateOf = (container: { id: DurableObjectId }) => standIn.containers.get(container.id.toString())

/** The error a promise rejects with. */
export const rejection = async (promise: Promise<unknown>): Promise<any> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error("expected a rejection")
}
