/** Every error the example's routes can fail with becomes a JSON response here, in one place. */
import { HttpServerResponse } from "@effect/platform"

const statusOf: Record<string, number> = {
  InvalidSessionId: 400,
  InvalidArgument: 400,
  InvalidConfig: 500,
  PoolExhausted: 503,
  ContainerStartFailed: 502,
  InvalidContainerBinding: 500,
  PoolUnavailable: 503,
  RouteNotFound: 404,
  MethodNotAllowed: 405,
  ContainerUnreachable: 502,
  ContainerRequestFailed: 502
}

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "InternalError"

/** `{ error, message }` with the status that fits the error's tag (500 for anything unexpected). */
export const errorResponse = (error: unknown): HttpServerResponse.HttpServerResponse => {
  const tag = tagOf(error)
  const message = error instanceof Error ? error.message : String(error)
  return HttpServerResponse.unsafeJson({ error: tag, message }, { status: statusOf[tag] ?? 500 })
}

/** The same, as a plain `Response`, for the Promise routes. */
export const errorResponseWeb = (error: unknown): Response => {
  const tag = tagOf(error)
  const message = error instanceof Error ? error.message : String(error)
  return Response.json({ error: tag, message }, { status: statusOf[tag] ?? 500 })
}
