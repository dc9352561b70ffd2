/**
 * The example Worker: a warm pool of busybox containers, routed by session id. Its routes are an
 * `@effect/platform` `HttpRouter` (see routes.ts), turned into a fetch handler with
 * `HttpApp.toWebHandler`; the Promise API is shown under /promise (promise.ts).
 */
import { HttpApp } from "@effect/platform"
import { PooledContainer, WarmPool, WarmPoolClient } from "cf-container-warm-pool"
import { Effect, Layer } from "effect"
import type { Env } from "./env.js"
import { poolOptions, WorkerEnv } from "./env.js"
import { errorResponse } from "./errors.js"
import { router } from "./routes.js"

export { WarmPool }
export type { Env }
// A Container adopting an already running container needs ContainerProxy among the Worker's exports.
export { ContainerProxy } from "@cloudflare/containers"

// PooledContainer: a stub kept past its lease gets 410 Gone and never wakes the container.
export class SessionContainer extends PooledContainer {
  defaultPort = 8080
  sleepAfter = "10m"

  // A container that dies is the pool's business (its health check replaces it):
  // log it rather than rethrow, which would surface as an unhandled rejection.
  override onError(error: unknown): void {
    console.warn("container error:", error instanceof Error ? error.message : error)
  }
}

/** The router with its services (the pool client, the env) and every failure answered in one place. */
const appFor = (env: Env) =>
  router.pipe(
    Effect.catchAll((error) => Effect.succeed(errorResponse(error))),
    Effect.provide(Layer.merge(WarmPoolClient.layer(env.WARM_POOL, env.CONTAINER, poolOptions(env)), Layer.succeed(WorkerEnv, env))),
    Effect.catchAll((error) => Effect.succeed(errorResponse(error)))
  )

// One handler per env object (the same for every request of an isolate).
const handlers = new WeakMap<Env, (request: Request) => Promise<Response>>()

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    let handler = handlers.get(env)
    if (handler === undefined) {
      handler = HttpApp.toWebHandler(appFor(env))
      handlers.set(env, handler)
    }
    return handler(request)
  }
} satisfies ExportedHandler<Env>
