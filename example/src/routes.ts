/**
 * The example's routes on `@effect/platform`'s `HttpRouter`. The pool client comes from
 * `WarmPoolClient.layer`; errors become responses in one place (`errors.ts`).
 *
 *   GET  /session/:id/*          forward to the session's container (timing in x-pool-ms / x-container-ms)
 *   POST /session/:id/release    release the session's container
 *   POST /session/:id/assign     assign the session a container without sending it a request (for bench:e2e)
 *   GET  /stats                  pool stats
 *   GET  /inspect?limit&cursor   a page of the pool's containers
 *   POST /warmup?count=N         start N more warm containers
 *   POST /shutdown               stop every container
 *   GET  /effect/session/:id/*   the Effect way: `pool.fetch` holds the session's container until the response body is sent
 *   GET  /direct/session/:id/*   the same container as /session/:id/, reached without the pool (for bench:e2e)
 *   GET  /dashboard              the live dashboard (dashboard.ts)
 *   *    /promise/*              the same pool through the Promise API (promise.ts)
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { LEASE_HEADER, leaseTokenOf, WarmPoolClient } from "cf-container-warm-pool"
import type { ContainerStub } from "cf-container-warm-pool"
import { Data, Duration, Effect } from "effect"
import { dashboardPage } from "./dashboard.js"
import { WorkerEnv } from "./env.js"
import { promiseHandler } from "./promise.js"

class MethodNotAllowed extends Data.TaggedError("MethodNotAllowed")<{ readonly message: string }> {}
class ContainerUnreachable extends Data.TaggedError("ContainerUnreachable")<{ readonly message: string }> {}
class NotSeenYet extends Data.TaggedError("RouteNotFound")<{ readonly message: string }> {}

/** The original web request, which the container receives with its path rewritten. */
const webRequest = Effect.map(HttpServerRequest.HttpServerRequest, (request) => request.source as Request)

/** Forwards the request to `container`, its path rewritten to `path` (what follows `/session/:id`), with any extra `headers`. */
const forward = (
  container: { fetch: (request: Request) => Promise<Response> },
  path: string,
  headers?: Record<string, string>
) =>
  Effect.flatMap(webRequest, (request) => {
    const url = new URL(request.url)
    url.pathname = path
    const forwarded = new Request(url, request)
    for (const [name, value] of Object.entries(headers ?? {})) forwarded.headers.set(name, value)
    return Effect.tryPromise({
      try: () => container.fetch(forwarded),
      catch: (cause) => new ContainerUnreachable({ message: cause instanceof Error ? cause.message : String(cause) })
    })
  })

const withTimings = (response: Response, poolMs: number, containerMs: number) => {
  const headers = new Headers(response.headers)
  headers.set("x-pool-ms", poolMs.toFixed(1))
  headers.set("x-container-ms", containerMs.toFixed(1))
  headers.set("server-timing", `pool;dur=${poolMs.toFixed(1)}, container;dur=${containerMs.toFixed(1)}`)
  return HttpServerResponse.fromWeb(new Response(response.body, { status: response.status, headers }))
}

/** The value and how long it took, in ms. */
const millis = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, value]) => [value, Duration.toMillis(duration)] as const)

const sessionParams = Effect.map(HttpRouter.params, (params) => ({
  id: params.id ?? "",
  rest: `/${params["*"] ?? ""}`
}))

// The container each session reached through /session in this isolate, and its lease token, so /direct can
// bypass the pool (the container's fence still wants the token). Ids are plain values, unlike stubs, which
// are tied to the request that made them.
const containerIds = new Map<string, { readonly id: DurableObjectId; readonly token: string | undefined }>()

const assigned = (id: string) =>
  Effect.flatMap(WarmPoolClient, (pool) => millis(pool.getContainer(id))).pipe(
    Effect.tap(([container]) =>
      Effect.sync(() => containerIds.set(id, { id: container.id, token: leaseTokenOf(container as ContainerStub) }))
    )
  )

const session = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  if (request.method !== "GET") return yield* new MethodNotAllowed({ message: "method not allowed" })
  const { id, rest } = yield* sessionParams
  const [container, poolMs] = yield* assigned(id)
  const [response, containerMs] = yield* millis(forward(container, rest))
  return withTimings(response, poolMs, containerMs)
})

/**
 * The Effect way: `fetch` holds the session's container for this one request, until its response body has
 * been sent (or cancelled). Overlapping requests for one session share the lease; the last one out releases it.
 */
const borrow = Effect.gen(function*() {
  const { id, rest } = yield* sessionParams
  const pool = yield* WarmPoolClient
  const request = yield* webRequest
  const url = new URL(request.url)
  url.pathname = rest
  return HttpServerResponse.fromWeb(yield* pool.fetch(id, new Request(url, request)))
})

const direct = Effect.gen(function*() {
  const { id, rest } = yield* sessionParams
  const env = yield* WorkerEnv
  const seen = containerIds.get(id)
  if (seen === undefined) return yield* new NotSeenYet({ message: "no container seen for this session yet" })
  const lease = seen.token === undefined ? undefined : { [LEASE_HEADER]: seen.token }
  const [response, containerMs] = yield* millis(forward(env.CONTAINER.get(seen.id), rest, lease))
  return withTimings(response, 0, containerMs)
})

const json = (body: unknown) => HttpServerResponse.unsafeJson(body)

const countParam = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
  const count = new URL(request.url, "http://example").searchParams.get("count")
  return count === null ? undefined : Number(count)
})

const inspectParams = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
  const search = new URL(request.url, "http://example").searchParams
  const limit = search.get("limit")
  const cursor = search.get("cursor")
  return { ...(limit === null ? {} : { limit: Number(limit) }), ...(cursor === null ? {} : { cursor }) }
})

const pool = WarmPoolClient

export const router = HttpRouter.empty.pipe(
  HttpRouter.all("/session/:id", session),
  HttpRouter.all("/session/:id/*", session),
  HttpRouter.post("/session/:id/release", Effect.gen(function*() {
    const { id } = yield* sessionParams
    return json(yield* (yield* pool).release(id))
  })),
  HttpRouter.post("/session/:id/assign", Effect.gen(function*() {
    const { id } = yield* sessionParams
    const [, poolMs] = yield* assigned(id)
    return withTimings(Response.json({ assigned: true }), poolMs, 0)
  })),
  HttpRouter.get("/stats", Effect.map(Effect.flatMap(pool, (p) => p.stats), json)),
  HttpRouter.get("/inspect", Effect.gen(function*() {
    return json(yield* (yield* pool).inspect(yield* inspectParams))
  })),
  HttpRouter.post("/warmup", Effect.gen(function*() {
    return json(yield* (yield* pool).warmup(yield* countParam))
  })),
  HttpRouter.post("/shutdown", Effect.map(Effect.flatMap(pool, (p) => p.shutdown), json)),
  HttpRouter.get("/effect/session/:id", borrow),
  HttpRouter.get("/effect/session/:id/*", borrow),
  HttpRouter.get("/direct/session/:id", direct),
  HttpRouter.get("/direct/session/:id/*", direct),
  HttpRouter.get("/dashboard", Effect.succeed(HttpServerResponse.text(dashboardPage, { contentType: "text/html; charset=utf-8" }))),
  HttpRouter.all("/promise/*", Effect.gen(function*() {
    const request = yield* webRequest
    const env = yield* WorkerEnv
    return HttpServerResponse.fromWeb(yield* Effect.promise(() => promiseHandler(request, env)))
  }))
)
