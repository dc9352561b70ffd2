/**
 * The start governor: every container start passes through it.
 * - Pacing: with `maxStartsPerSecond`, starts begin at most that often (refills, warmup and cold
 *   starts alike); the platform answers a faster burst with 429.
 * - A learned limit: a start refused because the account or class is at its instance limit lowers the
 *   pool's effective cap to what it holds; every `probeIntervalMs` one start beyond it probes, and a
 *   probe that succeeds raises the cap again.
 * - A circuit breaker: after `breakerThreshold` failed starts in a row, refills pause for a cooldown that
 *   doubles on each repeat (cold starts fail fast meanwhile); once it has passed, starts are tried again,
 *   and one success closes it.
 *
 * State is per instance, in memory: a restart forgets a learned limit and closes the breaker.
 */
import { Clock, Context, Duration, Effect, Layer, Ref } from "effect"
import type { WarmPoolConfig } from "../Config.js"

export const governorTuning = {
  /** Failed starts in a row that open the breaker. */
  breakerThreshold: 5,
  /** The first cooldown; each repeat doubles it, up to `maxCooldownMs`. */
  baseCooldownMs: 10_000,
  maxCooldownMs: 600_000,
  /** How often a start may probe past a learned limit. */
  probeIntervalMs: 30_000
} as const

/**
 * Texts of `@cloudflare/containers` 0.3.7 (lower-cased, as it matches them) for a start refused because
 * no instance is available: its `NO_CONTAINER_INSTANCE_ERROR`, the 503 body its `fetch` answers with,
 * and the platform's instance-limit message.
 */
export const limitErrorTexts = [
  "there is no container instance that can be provided to this durable object",
  "there is no container instance available at this time",
  "maximum number of running container instances exceeded"
] as const

/** Its `RATE_LIMITED_ERROR` (a 429): too many starts per second. It counts as a failure, never as a limit. */
export const rateLimitedText = "you are requesting too many containers per second"

export const isLimitError = (reason: string): boolean => {
  const text = reason.toLowerCase()
  return limitErrorTexts.some((known) => text.includes(known))
}

export type BreakerState = "closed" | "open" | "half-open"

export interface GovernorState {
  /** When the next paced start may begin (epoch ms). */
  readonly nextStartAt: number
  /** The learned instance limit, or null while none was met. */
  readonly learnedCap: number | null
  /** When a start may next probe past the learned limit. */
  readonly probeAt: number
  readonly failuresInARow: number
  /** Times the breaker opened since it was last closed by a success. */
  readonly trips: number
  /** Until when the breaker is open; null when closed. */
  readonly openUntil: number | null
}

export const initialState: GovernorState = {
  nextStartAt: 0,
  learnedCap: null,
  probeAt: 0,
  failuresInARow: 0,
  trips: 0,
  openUntil: null
}

export const breakerState = (state: GovernorState, at: number): BreakerState =>
  state.openUntil === null ? "closed" : at < state.openUntil ? "open" : "half-open"

export const cooldownMs = (trips: number): number =>
  Math.min(governorTuning.maxCooldownMs, governorTuning.baseCooldownMs * 2 ** Math.max(0, trips - 1))

/** After a failed start at `at`, with `held` containers held besides the one that failed. */
export const afterFailure = (state: GovernorState, reason: string, held: number, at: number): GovernorState => {
  if (isLimitError(reason)) {
    // A limit is capacity, not a broken image: lower the cap, and leave the breaker alone.
    return { ...state, learnedCap: Math.max(0, held), probeAt: at + governorTuning.probeIntervalMs }
  }
  const failuresInARow = state.failuresInARow + 1
  // Half-open: the trial failed, so the breaker opens again at once, for longer.
  const trips = breakerState(state, at) === "half-open" || failuresInARow >= governorTuning.breakerThreshold
    ? state.trips + 1
    : state.trips
  return trips === state.trips
    ? { ...state, failuresInARow }
    : { ...state, failuresInARow, trips, openUntil: at + cooldownMs(trips) }
}

/** After a successful start, with `held` containers held in all: the breaker closes; a probe raises the cap. */
export const afterSuccess = (state: GovernorState, held: number, maxContainers: number): GovernorState => {
  const raised = state.learnedCap !== null && held > state.learnedCap ? held : state.learnedCap
  return {
    ...state,
    failuresInARow: 0,
    trips: 0,
    openUntil: null,
    learnedCap: raised !== null && raised >= maxContainers ? null : raised,
    // A probe that succeeded may be followed by another at once: the limit may have risen by more than one.
    probeAt: raised !== state.learnedCap ? 0 : state.probeAt
  }
}

/** The most containers the pool may hold now: `maxContainers`, or the learned limit (plus one probe when due). */
export const effectiveCap = (state: GovernorState, at: number, maxContainers: number): number =>
  state.learnedCap === null ? maxContainers : Math.min(maxContainers, state.learnedCap + (at >= state.probeAt ? 1 : 0))

/** Refill starts allowed now: none while open, one trial while half-open. */
export const refillAllowance = (state: GovernorState, at: number): number => {
  const breaker = breakerState(state, at)
  return breaker === "open" ? 0 : breaker === "half-open" ? 1 : Number.POSITIVE_INFINITY
}

/** What `stats()` reports about the governor. */
export interface GovernorReport {
  readonly learnedCap: number | null
  readonly breaker: { readonly state: BreakerState; readonly failuresInARow: number; readonly reopensAt: number | null }
}

export const make = Effect.gen(function*() {
  const state = yield* Ref.make(initialState)
  const now = Clock.currentTimeMillis

  /** Waits for this start's turn under `maxStartsPerSecond`; each caller takes the next free turn. */
  const pace = (config: WarmPoolConfig) =>
    config.maxStartsPerSecond === undefined ? Effect.void : Effect.gen(function*() {
      const at = yield* now
      const interval = 1000 / config.maxStartsPerSecond!
      const turn = yield* Ref.modify(state, (s) => {
        const begin = Math.max(at, s.nextStartAt)
        return [begin, { ...s, nextStartAt: begin + interval }]
      })
      if (turn > at) yield* Effect.sleep(Duration.millis(turn - at))
    })

  /**
   * Runs one start attempt under the governor: paced first (outside `attempt`'s own timeout), then
   * recorded: a success with its duration (`onStarted`), a failure by its reason. `held` reads how many
   * containers the pool holds, this one included.
   */
  const govern = <E extends { readonly reason: string }, R>(
    config: WarmPoolConfig,
    attempt: Effect.Effect<void, E, R>,
    held: Effect.Effect<number, unknown>,
    onStarted: (ms: number) => Effect.Effect<void>
  ): Effect.Effect<void, E, R> =>
    Effect.zipRight(
      pace(config),
      Effect.flatMap(now, (began) =>
        attempt.pipe(
          Effect.tapBoth({
            onFailure: (error) =>
              Effect.flatMap(Effect.orElseSucceed(held, () => 1), (n) =>
                Effect.flatMap(now, (at) => Ref.update(state, (s) => afterFailure(s, error.reason, n - 1, at)))),
            onSuccess: () =>
              Effect.flatMap(Effect.orElseSucceed(held, () => 0), (n) =>
                Effect.flatMap(now, (at) =>
                  Effect.zipRight(
                    Ref.update(state, (s) => afterSuccess(s, n, config.maxContainers)),
                    onStarted(at - began)
                  )))
          })
        ))
    )

  /** Why a cold start must fail fast now, if it must: the breaker is open. */
  const coldStartRefusal = Effect.flatMap(now, (at) =>
    Effect.map(Ref.get(state), (s) =>
      breakerState(s, at) === "open"
        ? `the start circuit breaker is open after ${s.failuresInARow} failed starts in a row; starts resume in ${
          s.openUntil! - at
        } ms`
        : undefined))

  const cap = (config: WarmPoolConfig) =>
    Effect.flatMap(now, (at) => Effect.map(Ref.get(state), (s) => effectiveCap(s, at, config.maxContainers)))

  const allowance = Effect.flatMap(now, (at) => Effect.map(Ref.get(state), (s) => refillAllowance(s, at)))

  const report: Effect.Effect<GovernorReport> = Effect.flatMap(now, (at) =>
    Effect.map(Ref.get(state), (s) => ({
      learnedCap: s.learnedCap,
      breaker: { state: breakerState(s, at), failuresInARow: s.failuresInARow, reopensAt: s.openUntil }
    })))

  return { pace, govern, coldStartRefusal, cap, allowance, report }
})

export class StartGovernor extends Context.Tag("cf-container-warm-pool/StartGovernor")<
  StartGovernor,
  Effect.Effect.Success<typeof make>
>() {
  static readonly make = make
  static readonly layer = Layer.effect(StartGovernor, make)
}
