import { createWarmPool, PooledContainer, WarmPool } from "cf-container-warm-pool"

export { WarmPool }

export class MyContainer extends PooledContainer {
  defaultPort = 8080
  sleepAfter = "10m"
}

interface Env {
  WARM_POOL: DurableObjectNamespace<WarmPool>
  CONTAINER: DurableObjectNamespace<MyContainer>
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, {
      minContainers: 2,
      maxContainers: 10
    })
    const sessionId = request.headers.get("x-session-id") ?? crypto.randomUUID()
    const container = await pool.getContainer(sessionId)
    return container.fetch(request)
  }
}
