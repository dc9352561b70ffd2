/**
 * For a user's `Container` subclass: tells the pool right away that the container stopped,
 * so the pool drops its slot (and the session holding it gets a fresh container on its next
 * call) without waiting for the next health check.
 */
import { Effect } from "effect"
import { decodeConfig } from "./Config.js"
import type { WarmPoolError } from "./Errors.js"
import { runAsPromise } from "./internal/promise.js"
import type { WarmPoolRpc } from "./Protocol.js"
import { callPool, methods } from "./Protocol.js"

export interface NotifyContainerStoppedOptions {
  /** The pool's name, `config.name` of the pool that owns the container. Default `"default"`. */
  readonly name?: string
}

/** Whatever identifies the container: its `ctx`, its id, or the name the pool gave it. */
export type StoppedContainer = DurableObjectState | DurableObjectId | string

const referenceOf = (container: StoppedContainer): string => {
  if (typeof container === "string") return container
  const id = "id" in container && typeof container.id === "object" ? container.id : (container as DurableObjectId)
  // The pool names each container by its Durable Object id.
  return id.toString()
}

/** The notice as an Effect: true when the pool dropped a slot, false when it held none for this container. */
export const containerStoppedNotice = (
  poolNamespace: DurableObjectNamespace<any>,
  container: StoppedContainer,
  options?: NotifyContainerStoppedOptions
): Effect.Effect<boolean, WarmPoolError> =>
  Effect.gen(function*() {
    const { name } = yield* decodeConfig(options?.name === undefined ? {} : { name: options.name })
    const pools = poolNamespace as DurableObjectNamespace
    const pool = pools.get(pools.idFromName(name)) as unknown as WarmPoolRpc
    return yield* callPool(methods.containerStopped, () => pool.containerStopped(referenceOf(container)))
  })

/**
 * Call from your container's `onStop`:
 *
 * ```ts
 * override async onStop() {
 *   await notifyContainerStopped(this.env.WARM_POOL, this.ctx)
 * }
 * ```
 *
 * Resolves to true when the pool dropped a slot, false when it held none for this container
 * (say, the pool stopped it itself). Rejects with a typed `WarmPoolError`; if the notice is
 * lost, the pool's next health check finds the dead container anyway.
 */
export const notifyContainerStopped = (
  poolNamespace: DurableObjectNamespace<any>,
  container: StoppedContainer,
  options?: NotifyContainerStoppedOptions
): Promise<boolean> =>
  runAsPromise(containerStoppedNotice(poolNamespace, container, options))
