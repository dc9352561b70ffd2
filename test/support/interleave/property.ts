/**
 * The interleaving property: many scenarios, each under one `fc.scheduler()` schedule. A failure
 * throws with the seed, the shrunk scenario and the order the scheduler released every step in.
 */
import { Effect, FastCheck as fc } from "effect"
import { runSchedule } from "./run.js"
import { scenarioArbitrary } from "./Scenario.js"

export interface Options {
  readonly seed: number
  readonly runs: number
  /** fast-check's path of a failing run, to replay exactly that one. */
  readonly path?: string | undefined
}

/** Runs the schedules; returns how many ran and how many scheduled steps they took. */
export const assertInterleavings = async (options: Options) => {
  const counter = { steps: 0, schedules: 0 }
  const details = await fc.check(
    fc.asyncProperty(scenarioArbitrary, fc.scheduler(), async (scenario, s) => {
      counter.schedules++
      // A schedule runs on microtasks only: let the test runner's own messages through between two.
      await new Promise((resolve) => setImmediate(resolve))
      await Effect.runPromise(runSchedule(scenario, s, counter))
    }),
    { seed: options.seed, numRuns: options.runs, endOnFailure: false, ...(options.path ? { path: options.path } : {}) }
  )
  if (details.failed) {
    const message = fc.defaultReportMessage(details) ?? "property failed"
    const replay = `INTERLEAVE_SEED=${options.seed} INTERLEAVE_PATH=${details.counterexamplePath ?? ""}`
    console.error(`Interleaving model test failed. Replay: ${replay} npx vitest run --project unit test/unit/Interleaving.test.ts\n${message}`)
    throw new Error(`${replay}\n${message}`)
  }
  return counter
}
