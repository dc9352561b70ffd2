import { env } from "cloudflare:test"
import type { WarmPoolOptions } from "cf-container-warm-pool"
import { createWarmPool } from "cf-container-warm-pool"
import { standIn } from "./StandInContainer.js"

let serial = 0

/** Every test gets its own pool: one namespace hosts many pools, by name. */
export const newPool = (options: WarmPoolOptions = {}) => {
  const name = `pool-${++serial}-${crypto.randomUUID()}`
  const config = { name, ...options }
  const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, config)
  const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(name))
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
