/**
 * `cf-container-warm-pool simulate --trace FILE [--config JSON] [--start-ms P50,P95] [--seed N]`
 *
 * Replays a request trace through the pool's real engine on a virtual clock and prints, as its last
 * line, one JSON object with what the pool would have cost and delivered. Plain Node: no workerd.
 */
import { readFile } from "node:fs/promises"
import { Effect, Either } from "effect"
import { decodeConfig } from "./Config.js"
import type { SimulationResult } from "./internal/sim/Simulator.js"
import { simulate } from "./internal/sim/Simulator.js"
import { parseTrace, SimulationInputError } from "./internal/sim/Trace.js"

export const usage =
  "usage: cf-container-warm-pool simulate --trace FILE [--config JSON] [--start-ms P50,P95] [--seed N]"

export interface CliOutput {
  readonly code: number
  readonly stdout: ReadonlyArray<string>
  readonly stderr: ReadonlyArray<string>
}

const inputError = (input: string, reason: string) => new SimulationInputError({ input, reason })

const flags = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const known = new Set(["--trace", "--config", "--start-ms", "--seed"])
    const values = new Map<string, string>()
    for (let i = 0; i < args.length; i += 2) {
      const flag = args[i]!
      if (!known.has(flag)) return yield* inputError("arguments", `unknown option ${JSON.stringify(flag.slice(0, 40))}`)
      const value = args[i + 1]
      if (value === undefined) return yield* inputError("arguments", `${flag} needs a value`)
      values.set(flag, value)
    }
    return values
  })

const parseStartMs = (text: string) => {
  const parts = text.split(",").map(Number)
  const [p50, p95] = parts
  return parts.length === 2 && p50 !== undefined && p95 !== undefined && Number.isFinite(p50) && Number.isFinite(p95) &&
      p50 > 0 && p95 >= p50
    ? Effect.succeed({ p50, p95 })
    : Effect.fail(inputError("--start-ms", `must be P50,P95 in ms with 0 < P50 <= P95, got ${JSON.stringify(text.slice(0, 40))}`))
}

const parseSeed = (text: string) => {
  const seed = Number(text)
  return Number.isSafeInteger(seed) && seed >= 0
    ? Effect.succeed(seed)
    : Effect.fail(inputError("--seed", `must be an integer of 0 or more, got ${JSON.stringify(text.slice(0, 40))}`))
}

const parseConfig = (text: string | undefined) =>
  Effect.gen(function*() {
    if (text === undefined) return yield* Effect.orDie(decodeConfig({}))
    const raw = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => inputError("--config", `is not JSON: ${error instanceof Error ? error.message : String(error)}`)
    })
    return yield* Effect.mapError(decodeConfig(raw), (error) => inputError("--config", `${error.field} ${error.reason}`))
  })

const readTrace = (path: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (error) => inputError("--trace", `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`)
  })

/** The `simulate` command, from its arguments (after `simulate`) to its result. */
export const simulateCommand = (args: ReadonlyArray<string>): Effect.Effect<SimulationResult, unknown> =>
  Effect.gen(function*() {
    const values = yield* flags(args)
    const tracePath = values.get("--trace")
    if (tracePath === undefined) return yield* inputError("arguments", "--trace FILE is required")
    const config = yield* parseConfig(values.get("--config"))
    const startMs = yield* parseStartMs(values.get("--start-ms") ?? "2000,8000")
    const seed = yield* parseSeed(values.get("--seed") ?? "1")
    const trace = yield* Effect.flatMap(readTrace(tracePath), parseTrace)
    return yield* simulate({ trace, config, startMs, seed })
  })

/** Runs the command line; never throws. Exit code 2 for bad input, 1 for anything unexpected. */
export const runCli = async (argv: ReadonlyArray<string>): Promise<CliOutput> => {
  const [command, ...args] = argv
  if (command !== "simulate") {
    return { code: 2, stdout: [], stderr: [command === undefined ? usage : `unknown command ${JSON.stringify(command.slice(0, 40))}\n${usage}`] }
  }
  const began = Date.now()
  const outcome = await Effect.runPromise(Effect.either(simulateCommand(args))).catch((defect: unknown) =>
    Either.left(defect)
  )
  if (Either.isLeft(outcome)) {
    const error = outcome.left
    const isInput = error instanceof SimulationInputError
    const message = error instanceof Error ? error.message : String(error)
    return { code: isInput ? 2 : 1, stdout: [], stderr: [`cf-container-warm-pool simulate: ${message}`, ...(isInput ? [usage] : [])] }
  }
  const result = outcome.right
  const summary = `simulated ${result.requests} requests (${result.newSessions} new sessions): hit rate ${
    (result.hitRate * 100).toFixed(1)
  }%, p95 wait ${result.p95WaitMs} ms, ${result.starts} starts, in ${((Date.now() - began) / 1000).toFixed(1)} s`
  return { code: 0, stdout: [summary, JSON.stringify(result)], stderr: [] }
}
