/**
 * The Promise API, for plain Workers: `createWarmPool` and `await`. The router mounts these under
 * `/promise`, so both ways of using the pool stay shown and tested.
 *
 *   GET  /promise/session/:id/*        forward to the session's container via pool.getContainer(id)
 *   POST /promise/session/:id/release  pool.releaseContainer(id)
 *   GET  /promise/stats                pool.stats()
 */
import { createWarmPool } from "cf-container-warm-pool"
import type { Env } from "./env.js"
import { poolOptions } from "./env.js"
import { errorResponseWeb } from "./errors.js"

const sessionRoute = /^\/promise\/session\/([^/]+)(\/.*)?$/

export const promiseHandler = async (request: Request, env: Env): Promise<Response> => {
  try {
    const pool = createWarmPool(env.WARM_POOL, env.CONTAINER, poolOptions(env))
    const url = new URL(request.url)
    const session = sessionRoute.exec(url.pathname)
    if (session !== null) {
      const sessionId = decodeURIComponent(session[1]!)
      const rest = session[2] ?? "/"
      if (rest === "/release" && request.method === "POST") return Response.json(await pool.releaseContainer(sessionId))
      if (request.method !== "GET") return new Response("method not allowed", { status: 405 })
      const container = await pool.getContainer(sessionId)
      url.pathname = rest
      return container.fetch(new Request(url, request))
    }
    if (url.pathname === "/promise/stats" && request.method === "GET") return Response.json(await pool.stats())
    return new Response("not found", { status: 404 })
  } catch (error) {
    return errorResponseWeb(error)
  }
}
