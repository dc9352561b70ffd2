/** A pool whose runtime exports its spans, as a user's subclass with an exporter layer would. */
import { Layer } from "effect"
import { TestWarmPool } from "../support/TestWarmPool.js"
import { makeMemoryTracer } from "../support/MemoryTracer.js"

/** The spans every TracedWarmPool instance records (the Durable Objects share the test's isolate). */
export const poolSpans = makeMemoryTracer()

export class TracedWarmPool extends TestWarmPool {
  static override telemetry(): Layer.Layer<never> {
    return Layer.setTracer(poolSpans.tracer)
  }
}
