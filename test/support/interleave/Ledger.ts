/**
 * What the callers of an interleaved run know: every call with its start, end and bound, and which
 * id holds which container as its callers see it. Holds are counted conservatively (only while the
 * pool must still honour them), so a broken invariant is a bug, never an artefact of the model.
 */
import type { WarmPoolConfig } from "../../../src/Config.js"
import { settleBounds, startBudgetMs } from "../../../src/internal/policy.js"

export type CallKind = "get" | "release" | "shutdown" | "tick" | "stopNotice"

export interface Call {
  readonly label: string
  readonly kind: CallKind
  readonly id: string | undefined
  readonly start: number
  /** The pool instance the call went to. */
  readonly instance: number
  readonly boundMs: number
  /** For a release: the scope whose close sent it; undefined for a plain release. */
  readonly closing: number | undefined
  /** Logical times of its start and end: the clock often stands still while calls come and go. */
  readonly opened: number
  closed?: number
  end?: number
  /** "reset" when its instance was reset before it answered: its caller saw an error. */
  outcome?: "ok" | "failed" | "reset"
}

/** An id's hold on a container: it got the container and has neither released it nor let it lapse. */
export interface Hold {
  readonly id: string
  readonly container: string
  /** The earliest the pool may end the lease (the earliest start among the calls that served it, plus `acquireTimeout`). */
  readonly lapsesAt: number
}

/** A scoped acquire that got its container and has not closed yet. */
export interface ScopeHolder extends Hold {
  readonly scope: number
  /** Something other than another scope's close may end it: a crash, a hang, a plain release, a shutdown. */
  excused: boolean
}

export const boundOf = (kind: CallKind, config: WarmPoolConfig): number =>
  kind === "get"
    ? startBudgetMs(config)
    : kind === "tick"
    ? settleBounds.tickMs
    : kind === "shutdown"
    ? settleBounds.shutdownMs
    : settleBounds.releaseMs

export class Ledger {
  readonly calls: Array<Call> = []
  /** Each id's hold as its callers see it. */
  readonly holds = new Map<string, Hold>()
  readonly scopes: Array<ScopeHolder> = []
  /** Containers that died or stopped answering: their holders may lose them. */
  readonly troubled = new Set<string>()
  /**
   * Container starts seen when a shutdown resolved with no use overlapping it: until the next
   * `getContainer` is sent, nothing may start.
   */
  quietSince: number | undefined
  /** When `busy` steps moved the clock: storage and CPU time, which the documented bounds leave aside. */
  private readonly busySpans: Array<readonly [from: number, to: number]> = []
  private events = 0

  constructor(readonly config: WarmPoolConfig) {}

  begin(kind: CallKind, id: string | undefined, label: string, now: number, instance: number, closing?: number): Call {
    const boundMs = boundOf(kind, this.config)
    const call: Call = {
      label,
      kind,
      id,
      start: now,
      instance,
      boundMs,
      closing,
      opened: this.events++
    }
    this.calls.push(call)
    if (kind === "get") this.quietSince = undefined
    // A release or a shutdown ends the holds it concerns as soon as it is sent. A scope's close ends
    // that scope only: other scopes of the id still hold the container.
    if (kind === "release") {
      this.holds.delete(id!)
      if (closing !== undefined) this.closeScope(closing)
      else for (const scope of this.scopes) if (scope.id === id) scope.excused = true
    }
    if (kind === "shutdown") {
      this.holds.clear()
      for (const scope of this.scopes) scope.excused = true
    }
    return call
  }

  finish(call: Call, outcome: "ok" | "failed" | "reset", now: number) {
    call.end = now
    call.closed = this.events++
    call.outcome = outcome
  }

  private overlaps(a: Call, b: Call) {
    return a !== b && b.opened < (a.closed ?? Infinity) && (b.closed ?? Infinity) > a.opened
  }

  /** A shutdown answered: from now until the next use, nothing may start, unless a use overlapped it. */
  shutDown(call: Call, starts: number) {
    const used = this.calls.some((other) => other.kind === "get" && this.overlaps(call, other))
    this.quietSince = used ? undefined : starts
  }

  /** Whether a release of the call's id (a plain one only, with `plainOnly`) or a shutdown overlapped the call. */
  private clashes(call: Call, plainOnly: boolean) {
    return this.calls.some((other) =>
      this.overlaps(call, other) &&
      (other.kind === "shutdown" ||
        (other.kind === "release" && other.id === call.id && !(plainOnly && other.closing !== undefined)))
    )
  }

  /**
   * A `getContainer` answered `container`. The id holds it, unless a release or shutdown overlapped the
   * call (the pool may have run it either side); a scoped acquire (`scope`) holds it unless a plain release
   * or a shutdown did. Returns the id's hold, or undefined when there is none.
   */
  granted(call: Call, container: string, scope?: number): Hold | undefined {
    const id = call.id!
    // A call that joined another's assignment got that call's lease terms.
    const earliest = this.calls
      .filter((other) => other.kind === "get" && other.id === id && this.overlaps(call, other))
      .reduce((min, other) => Math.min(min, other.start), call.start)
    const hold = { id, container, lapsesAt: earliest + this.config.acquireTimeout }
    if (scope !== undefined && !this.clashes(call, true)) {
      this.scopes.push({ ...hold, scope, excused: this.troubled.has(container) })
    }
    if (this.clashes(call, false)) return undefined
    this.holds.set(id, hold)
    return hold
  }

  closeScope(scope: number) {
    const index = this.scopes.findIndex((s) => s.scope === scope)
    if (index >= 0) this.scopes.splice(index, 1)
  }

  trouble(container: string) {
    this.troubled.add(container)
    for (const scope of this.scopes) if (scope.container === container) scope.excused = true
  }

  liveHolds(now: number): ReadonlyArray<Hold> {
    return [...this.holds.values()].filter((hold) => now < hold.lapsesAt)
  }

  /** The clock moves from `from` by `ms` while the pool is busy elsewhere. */
  busy(from: number, ms: number) {
    this.busySpans.push([from, from + ms])
  }

  /** How long a call has taken so far (or took), storage and CPU time aside. */
  elapsed(call: Call, now: number): number {
    const end = call.end ?? now
    const busy = this.busySpans.reduce(
      (sum, [from, to]) => sum + Math.max(0, Math.min(to, end) - Math.max(from, call.start)),
      0
    )
    return end - call.start - busy
  }
}
