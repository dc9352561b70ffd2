/**
 * Test-only hooks of the `WarmPool` Durable Object. They sit under a symbol, so no RPC caller
 * can reach them: tests get them from the instance itself (`runInDurableObject`, or a subclass).
 */
import type { TickReport } from "./Maintenance.js"

export const testHooks: unique symbol = Symbol("cf-container-warm-pool/testHooks")

export interface TestHooks {
  /** Runs one alarm tick now and reports what it did. */
  readonly tick: () => Promise<TickReport>
  /** Resolves when background refills and stops have finished. */
  readonly settled: () => Promise<void>
}
