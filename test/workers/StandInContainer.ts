/**
 * A stand-in for a `Container` Durable Object: the RPC surface the pool uses, with
 * no real container behind it. Its state lives in a module-level registry shared with
 * the tests (same isolate), so tests can make it fail, be slow or die, and can count.
 */
import { DurableObject } from "cloudflare:workers"

export interface StandInState {
  status: "stopped" | "healthy" | "stopped_with_code"
  starts: number
  requests: number
  startedAt: number
  ports: Array<number> | undefined
}

export const standIn = {
  /** Every stand-in ever touched, by Durable Object id. */
  containers: new Map<string, StandInState>(),
  behaviour: { failNextStarts: 0, startDelayMs: 0 },
  calls: { starts: 0, destroys: 0, keepAlives: 0, getStates: 0 },
  running(): number {
    return [...this.containers.values()].filter((c) => c.status === "healthy").length
  },
  reset() {
    this.behaviour.failNextStarts = 0
    this.behaviour.startDelayMs = 0
  }
}

export class StandInContainer extends DurableObject {
  get #state(): StandInState {
    const id = this.ctx.id.toString()
    let state = standIn.containers.get(id)
    if (state === undefined) {
      state = { status: "stopped", starts: 0, requests: 0, startedAt: 0, ports: undefined }
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
      throw new Error("stand-in start failure")
    }
    return this.#start(state)
  }

  async #start(state: StandInState): Promise<void> {
    if (standIn.behaviour.startDelayMs > 0) await scheduler.wait(standIn.behaviour.startDelayMs)
    state.status = "healthy"
    state.startedAt = Date.now()
  }

  async getState(): Promise<{ status: string; lastChange: number }> {
    standIn.calls.getStates++
    return { status: this.#state.status, lastChange: Date.now() }
  }

  renewActivityTimeout(): void {
    standIn.calls.keepAlives++
  }

  async stop(): Promise<void> {
    this.#state.status = "stopped"
  }

  async destroy(): Promise<void> {
    standIn.calls.destroys++
    this.#state.status = "stopped"
  }

  /** Test hook: the container dies behind the pool's back. */
  kill(): void {
    this.#state.status = "stopped_with_code"
  }

  override async fetch(): Promise<Response> {
    const state = this.#state
    if (state.status !== "healthy") return new Response("container not running", { status: 503 })
    state.requests++
    return Response.json({ container: this.ctx.id.toString(), requests: state.requests, startedAt: state.startedAt })
  }
}
