/**
 * The example Worker: a warm pool of busybox containers, routed by session id.
 *
 *   GET  /session/:id/*          forward to the session's container (timing in x-pool-ms / x-container-ms)
 *   POST /session/:id/release    release the session's container
 *   POST /session/:id/assign     assign the session a container without sending it a request (for bench:e2e)
 *   GET  /stats                  pool stats
 *   POST /warmup?count=N         start N more warm containers
 *   POST /shutdown               stop every container
 *   GET  /effect/session/:id/*   the Effect way: `pool.fetch` holds the session's container until the response body is sent
 *   GET  /direct/session/:id/*   the same container as /session/:id/, reached without the pool (for bench:e2e)
 */
import { createWarmPool, LEASE_HEADER, leaseTokenOf, PooledContainer, WarmPool, WarmPoolClient } from "cf-container-warm-pool"
import { Effect } from "effect"

export { WarmPool }
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

export interface Env {
  WARM_POOL: DurableObjectNamespace<WarmPool>
  CONTAINER: DurableObjectNamespace<SessionContainer>
  POOL_MIN_CONTAINERS?: string
  POOL_MAX_CONTAINERS?: string
}

const poolOptions = (env: Env) => ({
  name: "example",
  minContainers: Number(env.POOL_MIN_CONTAINERS ?? 2),
  maxContainers: Number(env.POOL_MAX_CONTAINERS ?? 5)
})

const statusOf: Record<string, number> = {
  InvalidSessionId: 400,
  InvalidArgument: 400,
  InvalidConfig: 500,
  PoolExhausted: 503,
  ContainerStartFailed: 502,
  InvalidContainerBinding: 500,
  PoolUnavailable: 503
}

/** Typed pool errors become JSON with a fitting status; anything else is a 500. */
const errorResponse = (error: unknown): Response => {
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "InternalError"
  const message = error instanceof Error ? error.message : String(error)
  return Response.json({ error: tag, message }, { status: statusOf[tag] ?? 500 })
}

/** The request as the container should see it: its path is what follows `/session/:id`. */
const rewritten = (request: Request, path: string): Request => {
  const url = new URL(request.url)
  url.pathname = path || "/"
  return new Request(url, request)
}

/** Forwards the request to `container`, rewriting the path, with any extra `headers`. */
const forward = async (
  container: { fetch: (request: Request) => Promise<Response> },
  request: Request,
  path: string,
  headers?: Record<string, string>
) => {
  const forwarded = rewritten(request, path)
  for (const [name, value] of Object.entries(headers ?? {})) forwarded.headers.set(name, value)
  return container.fetch(forwarded)
}

const timed = async <A>(body: () => Promise<A>): Promise<[A, number]> => {
  const start = performance.now()
  const value = await body()
  return [value, performance.now() - start]
}

const withTimings = (response: Response, poolMs: number, containerMs: number): Response => {
  const headers = new Headers(response.headers)
  headers.set("x-pool-ms", poolMs.toFixed(1))
  headers.set("x-container-ms", containerMs.toFixed(1))
  headers.set("server-timing", `pool;dur=${poolMs.toFixed(1)}, container;dur=${containerMs.toFixed(1)}`)
  return new Response(response.body, { status: response.status, headers })
}

const sessionRoute = /^\/session\/([^/]+)(\/.*)?$/
const directRoute = /^\/direct\/session\/([^/]+)(\/.*)?$/

// The container each session reached through /session in this isolate, and its lease token, so /direct can
// bypass the pool (the container's fence still wants the token). Ids are plain values, unlike stubs, which
// are tied to the request that made them.
const containerIds = new Map<string, { readonly id: DurableObjectId; readonly token: string | undefined }>()
const remember = (sessionId: string, container: DurableObjectStub) =>
  containerIds.set(sessionId, { id: container.id, token: leaseTokenOf(container) })
const effectSessionRoute = /^\/effect\/session\/([^/]+)(\/.*)?$/

/**
 * The Effect way: the client comes from a Layer, and `fetch` holds the session's container for this one
 * request, until its response body has been sent (or cancelled). Overlapping requests for one session
 * share the lease; the last one out releases it.
 */
const borrowForOneRequest = (sessionId: string, request: Request, path: string) =>
  Effect.flatMap(WarmPoolClient, (pool) => pool.fetch(sessionId, rewritten(request, path)))

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    try {
      const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, poolOptions(env))
      const session = sessionRoute.exec(url.pathname)
      if (session !== null) {
        const sessionId = decodeURIComponent(session[1]!)
        const rest = session[2] ?? "/"
        if (rest === "/release" && request.method === "POST") {
          return Response.json(await pool.releaseContainer(sessionId))
        }
        if (rest === "/assign" && request.method === "POST") {
          const [container, poolMs] = await timed(() => pool.getContainer(sessionId))
          remember(sessionId, container)
          return withTimings(Response.json({ assigned: true }), poolMs, 0)
        }
        if (request.method !== "GET") return new Response("method not allowed", { status: 405 })
        const [container, poolMs] = await timed(() => pool.getContainer(sessionId))
        remember(sessionId, container)
        const [response, containerMs] = await timed(() => forward(container, request, rest))
        return withTimings(response, poolMs, containerMs)
      }
      const direct = directRoute.exec(url.pathname)
      if (direct !== null && request.method === "GET") {
        const seen = containerIds.get(decodeURIComponent(direct[1]!))
        if (seen === undefined) return new Response("no container seen for this session yet", { status: 404 })
        const lease = seen.token === undefined ? undefined : { [LEASE_HEADER]: seen.token }
        const [response, containerMs] = await timed(() => forward(env.CONTAINER.get(seen.id), request, direct[2] ?? "/", lease))
        return withTimings(response, 0, containerMs)
      }
      const effectSession = effectSessionRoute.exec(url.pathname)
      if (effectSession !== null && request.method === "GET") {
        const program = borrowForOneRequest(decodeURIComponent(effectSession[1]!), request, effectSession[2] ?? "/")
        const layer = WarmPoolClient.layer(env.WARM_POOL, env.CONTAINER, poolOptions(env))
        const result = await Effect.runPromise(Effect.either(Effect.provide(program, layer)))
        return result._tag === "Right" ? result.right : errorResponse(result.left)
      }
      if (url.pathname === "/stats" && request.method === "GET") return Response.json(await pool.stats())
      if (url.pathname === "/warmup" && request.method === "POST") {
        const count = url.searchParams.get("count")
        return Response.json(await pool.warmup(count === null ? undefined : Number(count)))
      }
      if (url.pathname === "/shutdown" && request.method === "POST") return Response.json(await pool.shutdown())
      return new Response("not found", { status: 404 })
    } catch (error) {
      return errorResponse(error)
    }
  }
} satisfies ExportedHandler<Env>
