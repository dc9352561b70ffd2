/**
 * A stand-in for a `Container` Durable Object: the RPC surface the pool uses, with
 * no real container behind it. Its state lives in a module-level registry shared with
 * the tests (same isolate), so tests can make it fail, be slow or die, and can count.
 */
import { DurableObject } from "cloudflare:workers"
import { notifyContainerStopped } from "../../src/notifyContainerStopped.js"

/** `@cloudflare/containers` 0.3.7's texts (dist/lib/container.js), as its `Container` throws them. */
export const NO_CONTAINER_INSTANCE_ERROR = "there is no container instance that can be provided to this durable object"
export const RATE_LIMITED_ERROR = "you are requesting too many containers per second"
export const UNEXPECTED_EXIT_ERROR = "container exited with unexpected exit code: 1"

export interface StandInState {
  /** The name the pool gave it (`ctx.id.name`). */
  name: string | undefined
  status: "stopped" | "healthy" | "stopped_with_code"
  starts: number
  requests: number
  startedAt: number
  ports: Array<number> | undefined
  /** Bumped by destroy(): a start under way when the container is destroyed never reports ready. */
  generation: number
}

export type HeldMethod = "start" | "getState" | "destroy"

export interface Hold {
  /** Resolves when the held call arrives. */
  readonly entered: Promise<void>
  readonly released: Promise<void>
  /** Resolves when the held call has done its work (or failed), after `release()`. */
  readonly finished: Promise<void>
  readonly enter: () => void
  readonly release: () => void
  readonly finish: () => void
}

export const standIn = {
  /** Every stand-in ever touched, by Durable Object id. */
  containers: new Map<string, StandInState>(),
  behaviour: {
    failNextStarts: 0,
    /** The message those failures throw with (say, one of `@cloudflare/containers`' own texts). */
    startError: "stand-in start failure",
    /** The platform's instance limit: a start past this many running stand-ins is refused, as Cloudflare does. */
    instanceLimit: undefined as number | undefined,
    startDelayMs: 0,
    /** These methods throw, as a broken stub would. */
    failing: new Set<"getState" | "destroy" | "renewActivityTimeout">()
  },
  /** Held calls wait here until the test lets them go; see `hold`. */
  holds: new Map<HeldMethod, Hold>(),
  /**
   * The next call of `method` waits until `release()` is called. `entered` resolves when the
   * call arrives, so a test knows exactly where the caller is: no sleeps.
   */
  hold(method: HeldMethod): Hold {
    let enter!: () => void
    let release!: () => void
    let finish!: () => void
    const hold: Hold = {
      entered: new Promise<void>((resolve) => (enter = resolve)),
      released: new Promise<void>((resolve) => (release = resolve)),
      finished: new Promise<void>((resolve) => (finish = resolve)),
      enter: () => enter(),
      release: () => release(),
      finish: () => finish()
    }
    this.holds.set(method, hold)
    return hold
  },
  calls: { starts: 0, destroys: 0, keepAlives: 0, getStates: 0 },
  /** The body of the last `/stream` response: the test writes it chunk by chunk, and ends it. */
  stream: undefined as
    | { readonly push: (text: string) => void; readonly end: () => void }
    | undefined,
  running(): number {
    return [...this.containers.values()].filter((c) => c.status === "healthy").length
  },
  reset() {
    this.behaviour.failNextStarts = 0
    this.behaviour.startError = "stand-in start failure"
    this.behaviour.instanceLimit = undefined
    this.behaviour.startDelayMs = 0
    this.behaviour.failing.clear()
    for (const hold of this.holds.values()) hold.release()
    this.holds.clear()
  },
  /** Waits here if a test holds `method`; returns what to call once the call's work is done. */
  async gate(method: HeldMethod): Promise<() => void> {
    const hold = this.holds.get(method)
    if (hold === undefined) return () => {}
    this.holds.delete(method)
    hold.enter()
    await hold.released
    return hold.finish
  }
}

/** A body the test controls through `standIn.stream`. */
const openStream = (): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      standIn.stream = {
        push: (text) => controller.enqueue(new TextEncoder().encode(text)),
        end: () => controller.close()
      }
    }
  })

export class StandInContainer extends DurableObject {
  get #state(): StandInState {
    const id = this.ctx.id.toString()
    let state = standIn.containers.get(id)
    if (state === undefined) {
      state = { name: this.ctx.id.name, status: "stopped", starts: 0, requests: 0, startedAt: 0, ports: undefined, generation: 0 }
      standIn.containers.set(id, state)
    }
    return state
  }

  // Not async: workerd reports a rejected async RPC method as an unhandled error even when
  // the caller handles it, while a synchronous throw reaches the caller just the same.
  startAndWaitForPorts(ports?: Array<number>): Promise<void> {
    standIn.calls.starts++
    const state = this.#state
    state.starts++
    state.ports = ports
    if (standIn.behaviour.failNextStarts > 0) {
      standIn.behaviour.failNextStarts--
      throw new Error(standIn.behaviour.startError)
    }
    const limit = standIn.behaviour.instanceLimit
    if (limit !== undefined && state.status !== "healthy" && standIn.running() >= limit) {
      // What `Container.startAndWaitForPorts` (0.3.7) throws when no instance can be had.
      throw new Error(NO_CONTAINER_INSTANCE_ERROR)
    }
    return this.#start(state)
  }

  async #start(state: StandInState): Promise<void> {
    const generation = state.generation
    const finished = await standIn.gate("start")
    try {
      if (standIn.behaviour.startDelayMs > 0) await scheduler.wait(standIn.behaviour.startDelayMs)
      if (state.generation !== generation) throw new Error("stand-in destroyed while starting")
      state.status = "healthy"
      state.startedAt = Date.now()
    } finally {
      finished()
    }
  }

  async getState(): Promise<{ status: string; lastChange: number }> {
    standIn.calls.getStates++
    const finished = await standIn.gate("getState")
    finished()
    if (standIn.behaviour.failing.has("getState")) throw new Error("stand-in getState failure")
    return { status: this.#state.status, lastChange: Date.now() }
  }

  renewActivityTimeout(): void {
    standIn.calls.keepAlives++
    if (standIn.behaviour.failing.has("renewActivityTimeout")) throw new Error("stand-in renew failure")
  }

  async stop(): Promise<void> {
    this.#state.status = "stopped"
  }

  async destroy(): Promise<void> {
    standIn.calls.destroys++
    const finished = await standIn.gate("destroy")
    try {
      if (standIn.behaviour.failing.has("destroy")) throw new Error("stand-in destroy failure")
      this.#state.status = "stopped"
      this.#state.generation++
    } finally {
      finished()
    }
  }

  /** Test hook: the container dies and, as a user's `onStop` would, tells its pool at once. */
  async dieAndNotify(poolName: string): Promise<boolean> {
    this.#state.status = "stopped_with_code"
    const env = this.env as { WARM_POOL: DurableObjectNamespace }
    return notifyContainerStopped(env.WARM_POOL, this.ctx, { name: poolName })
  }

  /** Test hook: the container dies behind the pool's back. */
  kill(): void {
    this.#state.status = "stopped_with_code"
  }

  override async fetch(request: Request): Promise<Response> {
    const state = this.#state
    if (state.status !== "healthy") return new Response("container not running", { status: 503 })
    state.requests++
    if (new URL(request.url).pathname === "/stream") return new Response(openStream())
    return Response.json({ container: this.ctx.id.toString(), requests: state.requests, startedAt: state.startedAt })
  }
}
