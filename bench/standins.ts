/**
 * Stand-in containers for the benchmark: they start instantly and keep their state in
 * fields, so they run as ephemeral Durable Objects (no SQLite file, no file descriptors).
 * A container the pool never started counts as running: the benchmark seeds sessions
 * straight into the pool's tables, and their containers must pass health checks.
 */
import { DurableObject } from "cloudflare:workers"

// Every stand-in shares this isolate, so the benchmark reads the calls from any one of them.
const calls = { starts: 0, getStates: 0, keepAlives: 0, destroys: 0 }

export class StandInContainer extends DurableObject {
  #status: "healthy" | "stopped" = "healthy"

  startAndWaitForPorts(): void {
    calls.starts++
    this.#status = "healthy"
  }

  getState(): { status: string; lastChange: number } {
    calls.getStates++
    return { status: this.#status, lastChange: Date.now() }
  }

  renewActivityTimeout(): void {
    calls.keepAlives++
  }

  destroy(): void {
    calls.destroys++
    this.#status = "stopped"
  }

  /** An uncounted call: one I/O, so workerd's clock (which moves only on I/O) shows the time spent before it. */
  ping(): void {}

  /** The calls every stand-in received, reset on read. */
  takeCalls(): typeof calls {
    const taken = { ...calls }
    calls.starts = calls.getStates = calls.keepAlives = calls.destroys = 0
    return taken
  }
}

export default { fetch: () => new Response("stand-ins") }
