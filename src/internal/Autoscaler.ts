/**
 * The demand-following warm target. With `autoscale` on, the warm set should cover the new sessions
 * that arrive while a replacement starts (Little's law: arrival rate × start time), plus headroom for
 * the randomness of arrivals. The rate is measured over a stable window and a panic window (Knative's
 * 60 s and 6 s by default): a burst that doubles the stable rate within the panic window raises the
 * target at once, and a lull lowers it only as the stable window forgets. With `autoscale` off, the
 * target is `minContainers`, as before these options existed.
 *
 * State is per instance, in memory: after a restart the measurements start again (the floor holds).
 */
import { Clock, Context, Effect, Layer, Ref } from "effect"
import type { WarmPoolConfig } from "../Config.js"
import { DEFAULT_AUTOSCALE_IDLE_TIMEOUT_MS, DEFAULT_PANIC_WINDOW_MS, DEFAULT_STABLE_WINDOW_MS } from "../Config.js"

/** The demand options with their defaults applied. */
export interface DemandSettings {
  readonly autoscale: boolean
  readonly stableWindowMs: number
  readonly panicWindowMs: number
  /** How long a warm container above the target may stay idle; undefined: forever. */
  readonly idleTimeoutMs: number | undefined
}

export const demandSettings = (config: WarmPoolConfig): DemandSettings => {
  const autoscale = config.autoscale ?? false
  return {
    autoscale,
    stableWindowMs: config.autoscaleStableWindow ?? DEFAULT_STABLE_WINDOW_MS,
    panicWindowMs: config.autoscalePanicWindow ?? DEFAULT_PANIC_WINDOW_MS,
    idleTimeoutMs: config.idleTimeout ?? (autoscale ? DEFAULT_AUTOSCALE_IDLE_TIMEOUT_MS : undefined)
  }
}

export const tuning = {
  /** The panic window's rate must reach this multiple of the stable rate to take over (Knative's 2). */
  panicThreshold: 2,
  /** Fewest arrivals in the panic window that count as a burst. */
  panicMinArrivals: 3,
  /** Headroom over the mean demand, in standard deviations of Poisson arrivals (√mean). */
  headroom: 2,
  /** Start time assumed until one start has been measured. */
  initialStartMs: 2_000,
  /** Start durations averaged for the estimate. */
  startSamples: 20,
  /** Most arrival times kept: beyond ~800 new sessions a second over 60 s the rate reads low. */
  maxArrivals: 50_000
} as const

/** New sessions per ms over each window ending at `at`, and the rate the target follows. */
export const arrivalRates = (arrivals: ReadonlyArray<number>, at: number, settings: DemandSettings) => {
  const count = (windowMs: number) => arrivals.filter((t) => t > at - windowMs && t <= at).length
  const stable = count(settings.stableWindowMs) / settings.stableWindowMs
  const burst = count(settings.panicWindowMs)
  const panic = burst / settings.panicWindowMs
  // One arrival is not a burst: a quiet pool must not warm up for every lone session.
  const panicking = burst >= tuning.panicMinArrivals && panic >= tuning.panicThreshold * stable
  return { stable, panic, panicking, rate: panicking ? panic : stable }
}

/** The mean of the recent start durations, or the initial guess before any was measured. */
export const startEstimateMs = (starts: ReadonlyArray<number>): number =>
  starts.length === 0 ? tuning.initialStartMs : starts.reduce((sum, ms) => sum + ms, 0) / starts.length

/**
 * The warm target: `minContainers` when autoscaling is off; otherwise the demand during one start plus
 * headroom, never below `minContainers` nor above `maxContainers`.
 */
export const warmTarget = (
  config: Pick<WarmPoolConfig, "minContainers" | "maxContainers">,
  settings: DemandSettings,
  ratePerMs: number,
  startMs: number
): number => {
  if (!settings.autoscale) return config.minContainers
  const demand = ratePerMs * startMs
  const estimate = demand <= 0 ? 0 : Math.ceil(demand + tuning.headroom * Math.sqrt(demand))
  return Math.min(config.maxContainers, Math.max(config.minContainers, estimate))
}

/**
 * The config the sizing arithmetic (`policy.refillNeeded`, `capacityLeft`, `releaseOutcome`) runs on:
 * `minContainers` becomes the warm target, and `maxContainers` the governor's effective cap.
 */
export const shaped = (config: WarmPoolConfig, target: number, cap: number): WarmPoolConfig => ({
  ...config,
  minContainers: Math.min(target, cap),
  maxContainers: cap
})

interface Measurements {
  /** Arrival times of new sessions (epoch ms), oldest first, trimmed to the stable window. */
  readonly arrivals: ReadonlyArray<number>
  /** Recent start durations (ms), oldest first. */
  readonly starts: ReadonlyArray<number>
}

/** What `stats()` reports about demand. */
export interface DemandReport {
  readonly target: number
  /** New sessions per second, as the target follows it. */
  readonly arrivalsPerSecond: number
  /** The start time the target assumes (ms). */
  readonly startMs: number
}

export const make = Effect.gen(function*() {
  const measured = yield* Ref.make<Measurements>({ arrivals: [], starts: [] })
  const now = Clock.currentTimeMillis

  /** A new session asked for a container (not a sticky call). */
  const recordArrival = (config: WarmPoolConfig) =>
    Effect.flatMap(now, (at) =>
      Ref.update(measured, (m) => {
        const horizon = at - demandSettings(config).stableWindowMs
        const kept = m.arrivals.length > 0 && m.arrivals[0]! <= horizon ? m.arrivals.filter((t) => t > horizon) : m.arrivals
        return { ...m, arrivals: [...kept.slice(-(tuning.maxArrivals - 1)), at] }
      }))

  /** A start succeeded after `ms`. */
  const recordStart = (ms: number) =>
    Ref.update(measured, (m) => ({ ...m, starts: [...m.starts.slice(-(tuning.startSamples - 1)), Math.max(0, ms)] }))

  const report = (config: WarmPoolConfig): Effect.Effect<DemandReport> =>
    Effect.gen(function*() {
      const m = yield* Ref.get(measured)
      const settings = demandSettings(config)
      const { rate } = arrivalRates(m.arrivals, yield* now, settings)
      const startMs = startEstimateMs(m.starts)
      return { target: warmTarget(config, settings, rate, startMs), arrivalsPerSecond: rate * 1000, startMs: Math.round(startMs) }
    })

  const target = (config: WarmPoolConfig) => Effect.map(report(config), (r) => r.target)

  return { recordArrival, recordStart, report, target }
})

export class Autoscaler extends Context.Tag("cf-container-warm-pool/Autoscaler")<
  Autoscaler,
  Effect.Effect.Success<typeof make>
>() {
  static readonly make = make
  static readonly layer = Layer.effect(Autoscaler, make)
}
