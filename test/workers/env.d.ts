import type { TestWarmPool as WarmPool } from "../support/TestWarmPool.js"
import type { FencedStandIn } from "./FencedStandIn.js"
import type { StandInContainer } from "./StandInContainer.js"
import type { TracedWarmPool } from "./TracedWarmPool.js"

declare module "cloudflare:test" {
  interface ProvidedEnv {
    WARM_POOL: DurableObjectNamespace<WarmPool>
    CONTAINER: DurableObjectNamespace<StandInContainer>
    /** Stand-ins behind the fence of `PooledContainer`. */
    FENCED: DurableObjectNamespace<FencedStandIn>
    /** A second namespace of stand-ins, for a pool whose containerBinding changes. */
    NOT_A_NAMESPACE_HOLDER: DurableObjectNamespace<StandInContainer>
    PLAIN_VALUE: string
    /** A pool whose static telemetry() records its spans (TracedWarmPool.ts). */
    TRACED_POOL: DurableObjectNamespace<TracedWarmPool>
  }
}
