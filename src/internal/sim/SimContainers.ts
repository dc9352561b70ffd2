/**
 * Simulated containers for the simulator: a start takes a log-normal time on the virtual clock, drawn
 * from a seeded generator; every other call answers at once. They count what a bill would: starts begun,
 * and how many run at each moment (from the start's beginning until `destroy`).
 */
import { Duration, Effect } from "effect"
import type { ContainerDriverService, Containers } from "../ContainerDriver.js"

/** mulberry32: a small, fast, seeded generator of uniform numbers in [0, 1). */
export const seededRandom = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** The 95th percentile of a standard normal distribution. */
const Z95 = 1.6448536269514722

/** Log-normal draws with the given median and 95th percentile (ms), by Box–Muller. */
export const logNormal = (random: () => number, p50: number, p95: number): (() => number) => {
  const mu = Math.log(p50)
  const sigma = Math.log(p95 / p50) / Z95
  return () => {
    const u = Math.max(random(), Number.MIN_VALUE)
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
    return Math.exp(mu + sigma * z)
  }
}

export interface SimContainers {
  readonly driver: ContainerDriverService
  /** Containers running now: started (or starting) and not destroyed. */
  readonly running: () => number
  /** Start attempts begun. */
  readonly starts: () => number
}

export const makeSimContainers = (startMs: () => number): SimContainers => {
  const running = new Set<string>()
  let starts = 0
  let named = 0
  const containers: Containers = {
    start: (container) =>
      Effect.suspend(() => {
        starts++
        running.add(container)
        return Effect.sleep(Duration.millis(Math.round(startMs())))
      }),
    status: (container) => Effect.succeed(running.has(container) ? "healthy" : "stopped"),
    keepAlive: () => Effect.void,
    destroy: (container) => Effect.sync(() => void running.delete(container)),
    newName: () => `sim-${++named}`,
    // Only a start takes time here; the pool's timers on the other calls could never fire.
    answersAtOnce: true
  }
  return {
    driver: { resolve: () => Effect.succeed(containers) },
    running: () => running.size,
    starts: () => starts
  }
}
