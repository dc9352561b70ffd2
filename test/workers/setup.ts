/** Each test file starts with no earlier file's pool left to refill or check on its alarm (see `shutDownPools`). */
import { beforeAll } from "vitest"
import { shutDownPools } from "./helpers.js"

beforeAll(shutDownPools, 30_000)
