/**
 * The stub a client hands out for a fenced lease: the container's own stub, with the lease's token added
 * to every `fetch` and `containerFetch`. Everything else (`id`, `name`, RPC methods) is the stub's own.
 */
import { LEASE_HEADER } from "./fence.js"

const withToken = (request: Request, token: string): Request => {
  // A new Request: the caller's may have immutable headers (an incoming request's).
  const sent = new Request(request)
  sent.headers.set(LEASE_HEADER, token)
  return sent
}

interface Fetching {
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>
}

interface ContainerFetching {
  containerFetch(request: Request, port?: number): Promise<Response>
}

/** Where a fenced stub keeps its token: a symbol, so no RPC method name can clash with it. */
export const leaseToken: unique symbol = Symbol.for("cf-container-warm-pool/leaseToken")

/** The lease token a stub from `getContainer` sends, or undefined for an unfenced one. */
export const leaseTokenOf = (stub: object): string | undefined => {
  const token: unknown = Reflect.get(stub, leaseToken)
  return typeof token === "string" ? token : undefined
}

/** `stub`, with `token` sent along with every request made through it. */
export const fencedStub = <S extends object>(stub: S, fence: number): S => {
  const token = String(fence)
  const fetch = (input: RequestInfo | URL, init?: RequestInit) =>
    (stub as unknown as Fetching).fetch(withToken(new Request(input, init), token))
  const containerFetch = (requestOrUrl: Request | string | URL, portOrInit?: number | RequestInit, portParam?: number) => {
    const init = typeof portOrInit === "object" ? portOrInit : undefined
    const port = typeof portOrInit === "number" ? portOrInit : portParam
    const request = withToken(requestOrUrl instanceof Request ? requestOrUrl : new Request(requestOrUrl, init), token)
    const target = stub as unknown as ContainerFetching
    return port === undefined ? target.containerFetch(request) : target.containerFetch(request, port)
  }
  return new Proxy(stub, {
    get: (target, property) => {
      if (property === "fetch") return fetch
      if (property === "containerFetch") return containerFetch
      if (property === leaseToken) return token
      // RPC methods come back as is: they know their stub, and `.bind` on one would be an RPC call itself.
      if (property === "connect") {
        const connect = Reflect.get(target, property) as (...args: Array<unknown>) => unknown
        return (...args: Array<unknown>) => Reflect.apply(connect, target, args)
      }
      return Reflect.get(target, property)
    }
  })
}
