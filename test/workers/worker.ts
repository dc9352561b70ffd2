// The Worker the integration tests run in: the pool, the stand-in container, and the README quick start.
export { WarmPool } from "../../src/index.js"
export { StandInContainer } from "./StandInContainer.js"
export { default } from "./quickstart.js"
