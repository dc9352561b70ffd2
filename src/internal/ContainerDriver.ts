/**
 * The pool's edge to the containers: the RPC calls it makes on the user's `Container`
 * Durable Objects, reached through a binding of the pool Worker's env.
 */
import { Context, Duration, Effect, Layer } from "effect"
import { InvalidContainerBinding } from "../Errors.js"
import { ContainerCallFailed, reasonOf } from "./errors.js"
import type { StopReason } from "./fence.js"
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
  /** Destroys the container; a `PooledContainer` first closes its fence for good, quoting `reason`. */
  readonly destroy: (container: string, reason?: StopReason) => Effect.Effect<void, ContainerCallFailed>
  /**
   * Tells a `PooledContainer` that the lease it served ended at `epoch` (see `fence.ts`): "unfenced" when the
   * container's class has no fence (a plain `Container`). Absent means no container behind it is fenced.
   */
  readonly revoke?: (container: string, epoch: number, reason: StopReason) => Effect.Effect<Revoked, ContainerCallFailed>
  /** The name of a container never used before: a new unique Durable Object id. */
  readonly newName: () => string
  /**
   * True when every call but `start` completes without waiting on anything (the simulator's containers): no
   * bound could ever fire, so `withBounds` leaves them as they are rather than race each against a timer.
   */
  readonly answersAtOnce?: boolean
}

export interface ContainerDriverService {
  /** The containers behind a binding of the pool Worker's env. */
  readonly resolve: (binding: string) => Effect.Effect<Containers, InvalidContainerBinding>
}

export type Revoked = "revoked" | "unfenced"

/** The RPC surface of `Container` from `@cloudflare/containers` that the pool calls, and `PooledContainer`'s. */
export interface ContainerRpc {
  startAndWaitForPorts(ports?: Array<number>): Promise<unknown>
  getState(): Promise<{ readonly status: string }>
  renewActivityTimeout(): unknown
  /** A plain `Container` ignores the reason. */
  destroy(reason?: StopReason): Promise<unknown>
  warmPoolRevoke(epoch: number, reason: StopReason): Promise<unknown>
}

/** workerd's answer when the callee has no such method: here, a plain `Container`, which has no fence. */
const isMissingMethod = (cause: unknown) =>
  cause instanceof Error && cause.message.includes("RPC receiver does not implement")

/** The container operations over a Durable Object namespace. */
export const containersOf = (namespace: DurableObjectNamespace): Containers => {
  // A plain `Container` class answers every revocation alike: ask it once.
  let unfenced = false
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
    destroy: (container, reason) =>
      Effect.asVoid(call(container, "destroy", (s) => reason === undefined ? s.destroy() : s.destroy(reason))),
    revoke: (container, epoch, reason) =>
      unfenced ? Effect.succeed<Revoked>("unfenced") : Effect.tryPromise({
        try: () => stub(container).warmPoolRevoke(epoch, reason).then((): Revoked => "revoked"),
        catch: (cause) => cause
      }).pipe(
        Effect.catchAll((cause) =>
          isMissingMethod(cause)
            ? Effect.sync((): Revoked => (unfenced = true, "unfenced"))
            : Effect.fail(new ContainerCallFailed({ container, operation: "warmPoolRevoke", reason: reasonOf(cause) }))
        )
      ),
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
export const withBounds = (containers: Containers): Containers =>
  containers.answersAtOnce === true ? containers : bounded(containers)

const bounded = (containers: Containers): Containers => {
  const revoke = containers.revoke
  return {
    start: containers.start,
    status: (container) => within(limits.statusTimeoutMs, container, "getState")(containers.status(container)),
    keepAlive: (container) =>
      within(limits.keepAliveTimeoutMs, container, "renewActivityTimeout")(containers.keepAlive(container)),
    destroy: (container, reason) =>
      within(limits.stopTimeoutMs, container, "destroy")(containers.destroy(container, reason)),
    ...(revoke === undefined ? {} : {
      revoke: (container: string, epoch: number, reason: StopReason) =>
        within(limits.revokeTimeoutMs, container, "warmPoolRevoke")(revoke(container, epoch, reason))
    }),
    newName: containers.newName
  }
}

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
