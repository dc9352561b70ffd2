/**
 * A Durable Object namespace that records every RPC made through its stubs, so tests
 * and benchmarks count pool round trips instead of estimating them.
 */
export interface RecordedCall {
  readonly method: string
  readonly result: Promise<unknown>
}

export const countingNamespace = <N extends DurableObjectNamespace<any>>(namespace: N) => {
  const calls: Array<RecordedCall> = []
  const wrapStub = (stub: object) =>
    new Proxy(stub, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property)
        if (typeof property !== "string" || typeof value !== "function") return value
        // Not counted: a request, not an RPC; bound, as a native method needs its own stub as `this`.
        if (property === "fetch") return (value as Function).bind(target)
        return (...args: Array<unknown>) => {
          // Reflect.apply: `.apply` on an RPC method would itself be an RPC path.
          const result = Promise.resolve(Reflect.apply(value as Function, target, args))
          calls.push({ method: property, result })
          return result
        }
      }
    })
  const proxy = new Proxy(namespace, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property)
      if (property === "get") return (...args: Array<unknown>) => wrapStub(Reflect.apply(value as Function, target, args))
      return typeof value === "function" ? value.bind(target) : value
    }
  }) as N
  return {
    namespace: proxy,
    calls,
    /** How many RPCs were made, optionally of one method. */
    count: (method?: string) => calls.filter((call) => method === undefined || call.method === method).length,
    /** Waits for every RPC made so far, background ones included. */
    settled: () => Promise.allSettled(calls.map((call) => call.result)),
    reset: () => void calls.splice(0)
  }
}
