/**
 * What the callers of an interleaved run know: every call with its start, end and bound, and which
 * id holds which container as its callers see it. Holds are counted conservatively (only while the
 * pool must still honour them), so a broken invariant is a bug, never an artefact of the model.
 */
import type { WarmPoolConfig } from "../../../src/Config.js"
import { holdAttempts } from "../../../src/internal/holdPolicy.js"
import { settleBounds, startBudgetMs } from "../../../src/internal/policy.js"

/** `hold`, `renewHold` and `releaseHold` are a scoped acquire's calls. */
export type CallKind = "get" | "hold" | "renewHold" | "releaseHold" | "release" | "shutdown" | "tick" | "stopNotice"

export interface Call {
  readonly label: string
  readonly kind: CallKind
  readonly id: string | undefined
  readonly start: number
  /** The pool instance the call went to. */
  readonly instance: number
  readonly boundMs: number
  /** For a scope's calls: the scope. */
  readonly scope: number | undefined
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
export interface ScopeHolder {
  readonly id: string
  readonly container: string
  readonly scope: number
  /** The earliest its holder may lapse: `acquireTimeout` after it was taken or last renewed. */
  lapsesAt: number
  /** Something other than another scope's close may end it: a crash, a hang, a plain release, a shutdown. */
  excused: boolean
}

/** A hold is at most `holdAttempts` assignments, each within the start budget. */
export const boundOf = (kind: CallKind, config: WarmPoolConfig): number =>
  kind === "get"
    ? startBudgetMs(config)
    : kind === "hold"
    ? holdAttempts * startBudgetMs(config)
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

  begin(kind: CallKind, id: string | undefined, label: string, now: number, instance: number, scope?: number): Call {
    const boundMs = boundOf(kind, this.config)
    const call: Call = {
      label,
      kind,
      id,
      start: now,
      instance,
      boundMs,
      scope,
      opened: this.events++
    }
    this.calls.push(call)
    if (kind === "get" || kind === "hold") this.quietSince = undefined
    // A plain release or a shutdown ends the holds it concerns as soon as it is sent; a scope's close
    // removes that scope's holder only: the id's other holders, and its plain use, keep the lease.
    if (kind === "releaseHold") this.closeScope(scope!)
    if (kind === "release") {
      this.holds.delete(id!)
      for (const holder of this.scopes) if (holder.id === id) holder.excused = true
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
    const used = this.calls.some((other) => (other.kind === "get" || other.kind === "hold") && this.overlaps(call, other))
    this.quietSince = used ? undefined : starts
  }

  /**
   * Whether a plain release of the call's id, or a shutdown, overlapped the call (the pool may have run it either
   * side). A holder's leave never excuses a plain call: a lease whose end is decided is ended at once, so no
   * `getContainer` is answered its container (RELIABILITY.md).
   */
  private clashes(call: Call) {
    return this.calls.some((other) =>
      this.overlaps(call, other) &&
      (other.kind === "shutdown" || (other.id === call.id && other.kind === "release"))
    )
  }

  /** The earliest start among the calls for the id that overlapped `call`: a joined assignment has its terms. */
  private earliest(call: Call) {
    return this.calls
      .filter((other) => (other.kind === "get" || other.kind === "hold") && other.id === call.id && this.overlaps(call, other))
      .reduce((min, other) => Math.min(min, other.start), call.start)
  }

  /** A plain `getContainer` answered `container`: the id holds it, unless a plain release or a shutdown overlapped the call. */
  granted(call: Call, container: string) {
    if (this.clashes(call)) return
    this.holds.set(call.id!, { id: call.id!, container, lapsesAt: this.earliest(call) + this.config.acquireTimeout })
  }

  /** A scope's `hold` answered `container`: its holder holds it, unless a plain release or a shutdown overlapped. */
  held(call: Call, container: string) {
    if (this.clashes(call)) return
    const lapsesAt = call.start + this.config.acquireTimeout
    this.scopes.push({ id: call.id!, container, scope: call.scope!, lapsesAt, excused: this.troubled.has(container) })
  }

  /** A scope's holder renewed itself: it lapses later. Returns the holder, if its scope is still open. */
  renewed(call: Call) {
    const holder = this.scopes.find((s) => s.scope === call.scope)
    if (holder !== undefined) holder.lapsesAt = Math.max(holder.lapsesAt, call.start + this.config.acquireTimeout)
    return holder
  }

  closeScope(scope: number) {
    const index = this.scopes.findIndex((s) => s.scope === scope)
    if (index >= 0) this.scopes.splice(index, 1)
  }

  trouble(container: string) {
    this.troubled.add(container)
    for (const scope of this.scopes) if (scope.container === container) scope.excused = true
  }

  /** Plain holds, and (with `withScopes`) the holders of open scopes, that the pool must still honour. */
  liveHolds(now: number, withScopes: boolean): ReadonlyArray<Hold> {
    const scopes = withScopes ? this.scopes.filter((s) => !s.excused) : []
    return [...this.holds.values(), ...scopes].filter((hold) => now < hold.lapsesAt)
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
