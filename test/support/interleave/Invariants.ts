/**
 * The invariants an interleaved run checks after every scheduled step, read from the stored rows,
 * the fake containers and the callers' ledger. Checked with plain comparisons (they run some hundred
 * thousand times per run); a broken one throws with what was expected and what was found.
 */
import { Effect } from "effect"
import type { WarmPoolConfig } from "../../../src/Config.js"
import { totalContainers } from "../../../src/internal/policy.js"
import type { World } from "../RestartableWorld.js"
import type { Hold, Ledger, ScopeHolder } from "./Ledger.js"

/**
 * Scoped holders count as holding their id's container: it is not released or handed on while one
 * remains (issue 11 §1). On by default; `INTERLEAVE_HOLDERS=0` leaves them out, to tell a holder bug
 * from another.
 */
export const checkScopedHolders = process.env.INTERLEAVE_HOLDERS !== "0"

export class InvariantBroken extends Error {
  override readonly name = "InvariantBroken"
}

export const must = (holds: boolean, message: () => string) => {
  if (!holds) throw new InvariantBroken(message())
}

export const checkInvariants = (
  world: World,
  ledger: Ledger,
  config: WarmPoolConfig,
  now: number,
  step: string,
  tickInFlight: boolean
) =>
  Effect.gen(function*() {
    const { leases, slots } = yield* world.store.snapshot
    const counts = yield* world.store.counts
    const recount = { warming: 0, starting: 0, warm: 0, acquired: 0, stopping: 0 }
    for (const slot of slots) recount[slot.state]++
    must(
      (Object.keys(recount) as Array<keyof typeof recount>).every((state) => counts[state] === recount[state]),
      () => `${step}: the counts ${JSON.stringify(counts)} equal a recount of the rows ${JSON.stringify(recount)}`
    )
    must(
      totalContainers(counts) <= config.maxContainers,
      () => `${step}: the pool tracks ${totalContainers(counts)} containers, more than maxContainers ${config.maxContainers}`
    )
    must(new Set(leases.map((l) => l.container)).size === leases.length, () => `${step}: a container is leased to two ids`)

    // The runtime deletes the alarm as it fires it; the tick arms a safety alarm before anything else.
    if (!tickInFlight && slots.length > 0) {
      must((yield* world.alarm.get) !== null, () => `${step}: the pool holds ${slots.length} containers and no alarm is armed`)
    }
    must(
      ledger.quietSince === undefined || world.fake.calls.starts === ledger.quietSince,
      () => `${step}: a container started after shutdown() resolved, before any new use`
    )

    const bySlot = new Map(slots.map((slot) => [slot.container, slot]))
    const running = world.fake.running()
    must(
      running.length <= config.maxContainers,
      () => `${step}: ${running.length} containers run (${running.join(", ")}), more than maxContainers ${config.maxContainers}`
    )
    for (const container of running) {
      must(bySlot.has(container), () => `${step}: container ${container} runs, untracked by the pool`)
    }

    const holds = ledger.liveHolds(now, checkScopedHolders)
    const who = (hold: Hold | ScopeHolder) => "scope" in hold ? `${hold.id} (scope ${hold.scope})` : hold.id
    for (const hold of holds) {
      const others = holds.filter((other) => other.container === hold.container && other.id !== hold.id)
      must(
        others.length === 0 || !running.includes(hold.container),
        () => `${step}: running container ${hold.container} is held by ${who(hold)} and ${others.map(who).join(", ")}`
      )
      // An id keeps its container (the pool neither stops it nor hands it on) until it releases it, its lease
      // lapses, or the container fails.
      if (ledger.troubled.has(hold.container)) continue
      const slot = bySlot.get(hold.container)
      must(
        slot?.state === "acquired" && slot.sessionId === hold.id,
        () =>
          `${step}: ${who(hold)} holds ${hold.container} (until ${hold.lapsesAt} ms at the earliest), ` +
          `yet its slot is ${JSON.stringify(slot ?? "gone")}`
      )
    }

    for (const call of ledger.calls) {
      if (call.outcome === "reset" || (call.end === undefined && call.instance < world.restarts)) continue
      const elapsed = ledger.elapsed(call, now)
      must(
        elapsed <= call.boundMs,
        () => `${step}: ${call.label} has taken ${elapsed} ms${call.end === undefined ? " so far" : ""}, past its bound ${call.boundMs} ms`
      )
    }
  })
