/** The example Worker's bindings, and the pool's options from them. */
import type { WarmPool, WarmPoolOptions } from "cf-container-warm-pool"
import { Context } from "effect"
import type { SessionContainer } from "./index.js"

export interface Env {
  WARM_POOL: DurableObjectNamespace<WarmPool>
  CONTAINER: DurableObjectNamespace<SessionContainer>
  POOL_MIN_CONTAINERS?: string
  POOL_MAX_CONTAINERS?: string
}

/** The Worker's env, for routes that reach a binding directly. */
export class WorkerEnv extends Context.Tag("example/WorkerEnv")<WorkerEnv, Env>() {}

export const poolOptions = (env: Env): WarmPoolOptions => ({
  name: "example",
  minContainers: Number(env.POOL_MIN_CONTAINERS ?? 2),
  maxContainers: Number(env.POOL_MAX_CONTAINERS ?? 5)
})
