/**
 * Spans and log annotations for the pool's operations. Every span carries the pool's name (set once
 * per call with `Effect.annotateSpans`); session ids only when the caller opted in with
 * `traceSessionIds`, as they can be personal data.
 */
import { Effect, FiberRef } from "effect"
import type { WarmPoolConfig } from "../Config.js"

export const attributes = {
  pool: "warm_pool.name",
  outcome: "warm_pool.outcome",
  container: "warm_pool.container",
  session: "warm_pool.session_id"
} as const

/** Whether the call being served opted in to session ids in spans. */
const traceSessionIds = FiberRef.unsafeMake(false)

/** Runs one caller's call: its spans and logs name the pool, and session ids follow the caller's choice. */
export const forPool = (config: Pick<WarmPoolConfig, "name" | "traceSessionIds">) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  effect.pipe(
    Effect.annotateSpans(attributes.pool, config.name),
    Effect.annotateLogs(attributes.pool, config.name),
    Effect.locally(traceSessionIds, config.traceSessionIds)
  )

/** A span for an operation on one session: its id is an attribute only when the caller opted in. */
export const sessionSpan = (name: string, sessionId: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(FiberRef.get(traceSessionIds), (traced) =>
    Effect.withSpan(effect, name, { attributes: traced ? { [attributes.session]: sessionId } : {} }))

/** Records an operation's outcome (and container, when known) on the current span. */
export const outcome = (value: string, container?: string): Effect.Effect<void> =>
  Effect.annotateCurrentSpan(
    container === undefined ? { [attributes.outcome]: value } : { [attributes.outcome]: value, [attributes.container]: container }
  )
