// The Worker the integration tests run in: the pool (with its test hooks), the stand-in container, and the README quick start.
export { TestWarmPool as WarmPool } from "../support/TestWarmPool.js"
export { StandInContainer } from "./StandInContainer.js"
export { FencedStandIn } from "./FencedStandIn.js"
export { TracedWarmPool } from "./TracedWarmPool.js"
export { default } from "./quickstart.js"
