/**
 * The real `WarmPool`, with its test hooks (a tick now, background work settled) exposed as
 * RPC methods. Only test Workers export it; the library's Durable Object has no such methods.
 */
import { testHooks } from "../../src/internal/testHooks.js"
import { WarmPool } from "../../src/WarmPool.js"

export class TestWarmPool extends WarmPool {
  /** Runs one alarm tick now and reports what it did. */
  tick() {
    return this[testHooks].tick()
  }

  /** Resolves when background refills and stops have finished. */
  settled() {
    return this[testHooks].settled()
  }
}
