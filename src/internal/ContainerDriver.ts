/**
 * The pool's edge to the containers: the RPC calls it makes on the user's `Container`
 * Durable Objects, reached through a binding of the pool Worker's env.
 */
import { Context, Duration, Effect, Layer } from "effect"
import { InvalidContainerBinding } from "../Errors.js"
import { ContainerCallFailed, reasonOf } from "./errors.js"
import { limits } from "./policy.js"

/**
 * The container operations the pool needs, by container name. A container's name is its Durable
 * Object id (`id.toString()`): the container itself knows it, so a stop notice needs no other key.
 */
export interface Containers {
  /** Starts the container and waits until its ports accept connections. */
  readonly start: (container: string, ports: ReadonlyArray<number>) => Effect.Effect<void, ContainerCallFailed>
  /** The container's status, as `Container.getState()` reports it. */
  readonly status: (container: string) => Effect.Effect<string, ContainerCallFailed>
  /** Resets the container's `sleepAfter` timer. */
  readonly keepAlive: (container: string) => Effect.Effect<void, ContainerCallFailed>
  readonly destroy: (container: string) => Effect.Effect<void, ContainerCallFailed>
  /** The name of a container never used before: a new unique Durable Object id. */
  readonly newName: () => string
}

export interface ContainerDriverService {
  /** The containers behind a binding of the pool Worker's env. */
  readonly resolve: (binding: string) => Effect.Effect<Containers, InvalidContainerBinding>
}

/** The RPC surface of `Container` from `@cloudflare/containers` that the pool calls. */
export interface ContainerRpc {
  startAndWaitForPorts(ports?: Array<number>): Promise<unknown>
  getState(): Promise<{ readonly status: string }>
  renewActivityTimeout(): unknown
  destroy(): Promise<unknown>
}

/** The container operations over a Durable Object namespace. */
export const containersOf = (namespace: DurableObjectNamespace): Containers => {
  const stub = (container: string) => namespace.get(namespace.idFromString(container)) as unknown as ContainerRpc
  const call = <A>(container: string, operation: string, body: (stub: ContainerRpc) => Promise<A>) =>
    Effect.tryPromise({
      try: () => body(stub(container)),
      catch: (cause) => new ContainerCallFailed({ container, operation, reason: reasonOf(cause) })
    })
  return {
    // No ports means the container class's own requiredPorts or defaultPort.
    start: (container, ports) =>
      Effect.asVoid(
        call(container, "start", (s) => ports.length === 0 ? s.startAndWaitForPorts() : s.startAndWaitForPorts([...ports]))
      ),
    status: (container) => Effect.map(call(container, "getState", (s) => s.getState()), (state) => state.status),
    keepAlive: (container) =>
      Effect.asVoid(call(container, "renewActivityTimeout", async (s) => s.renewActivityTimeout())),
    destroy: (container) => Effect.asVoid(call(container, "destroy", (s) => s.destroy())),
    newName: () => namespace.newUniqueId().toString()
  }
}

/**
 * A container call that does not answer within `ms` fails as `ContainerCallFailed`. It is made interruptible
 * first: the pool also calls containers from finalizers (a failed start stops what it began), where an
 * uninterruptible call would outlast its timeout.
 */
const within = (ms: number, container: string, operation: string) =>
<A>(call: Effect.Effect<A, ContainerCallFailed>): Effect.Effect<A, ContainerCallFailed> =>
  Effect.interruptible(call).pipe(
    Effect.timeoutFail({
      duration: Duration.millis(ms),
      onTimeout: () => new ContainerCallFailed({ container, operation, reason: `no answer within ${ms} ms` })
    })
  )

/**
 * The same containers with every call but `start` bounded in time (see `limits`); a start is bounded by the
 * pool's `startupTimeout`, which `Lifecycle` applies. No caller waits on a container that never answers.
 */
export const withBounds = (containers: Containers): Containers => ({
  start: containers.start,
  status: (container) => within(limits.statusTimeoutMs, container, "getState")(containers.status(container)),
  keepAlive: (container) =>
    within(limits.keepAliveTimeoutMs, container, "renewActivityTimeout")(containers.keepAlive(container)),
  destroy: (container) => within(limits.stopTimeoutMs, container, "destroy")(containers.destroy(container)),
  newName: containers.newName
})

const isNamespace = (value: unknown): value is DurableObjectNamespace =>
  typeof value === "object" && value !== null &&
  typeof (value as DurableObjectNamespace).newUniqueId === "function" &&
  typeof (value as DurableObjectNamespace).idFromString === "function" &&
  typeof (value as DurableObjectNamespace).get === "function"

/** Resolves bindings by name from a Worker env. A `DurableObjectNamespace` cannot cross RPC, so the pool looks it up. */
export const fromEnv = (env: object): ContainerDriverService => ({
  resolve: (binding) =>
    Effect.suspend(() => {
      const value: unknown = (env as Record<string, unknown>)[binding]
      if (value === undefined) {
        return Effect.fail(
          new InvalidContainerBinding({ binding, reason: "is not defined in the env of the Worker that hosts WarmPool" })
        )
      }
      if (!isNamespace(value)) {
        return Effect.fail(new InvalidContainerBinding({ binding, reason: "is not a Durable Object namespace" }))
      }
      return Effect.succeed(containersOf(value))
    })
})

export class ContainerDriver extends Context.Tag("cf-container-warm-pool/ContainerDriver")<
  ContainerDriver,
  ContainerDriverService
>() {
  static readonly make = fromEnv
  static readonly layer = (env: object): Layer.Layer<ContainerDriver> => Layer.sync(ContainerDriver, () => fromEnv(env))
}
