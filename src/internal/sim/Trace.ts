/**
 * Request traces for the simulator: CSV with a header line, columns `t_ms,session[,action]`, rows sorted
 * by `t_ms`; `action` is `get` (the default) or `release`.
 */
import { Effect, Schema } from "effect"
import { validateSessionId } from "../../SessionId.js"

/** Input the simulator cannot use: a missing file, a bad trace line, a bad option. */
export class SimulationInputError extends Schema.TaggedError<SimulationInputError>()("SimulationInputError", {
  /** What was bad: `trace`, `config`, `--start-ms`, `--seed`, or the command line. */
  input: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.input}: ${this.reason}`
  }
}

export interface TraceRow {
  readonly t: number
  readonly session: string
  readonly action: "get" | "release"
}

const bad = (reason: string) => new SimulationInputError({ input: "trace", reason })

const parseRow = (line: string, lineNo: number, columns: number, previous: number) =>
  Effect.gen(function*() {
    const fields = line.split(",")
    if (fields.length !== columns) {
      return yield* bad(`line ${lineNo}: expected ${columns} comma-separated fields, got ${fields.length}`)
    }
    const [time, session, action = "get"] = fields.map((field) => field.trim())
    const t = Number(time)
    if (time === "" || !Number.isSafeInteger(t) || t < 0) {
      return yield* bad(`line ${lineNo}: t_ms must be an integer of 0 or more, got ${JSON.stringify(time)}`)
    }
    if (t < previous) return yield* bad(`line ${lineNo}: rows must be sorted by t_ms (${t} after ${previous})`)
    if (action !== "get" && action !== "release") {
      return yield* bad(`line ${lineNo}: action must be get or release, got ${JSON.stringify(action.slice(0, 40))}`)
    }
    const id = yield* Effect.mapError(validateSessionId(session), (e) => bad(`line ${lineNo}: session ${e.reason}`))
    return { t, session: id, action } as TraceRow
  })

/** Parses a whole trace; the first bad line fails it, naming the line. */
export const parseTrace = (text: string): Effect.Effect<ReadonlyArray<TraceRow>, SimulationInputError> =>
  Effect.gen(function*() {
    const lines = text.split(/\r?\n/)
    const header = (lines[0] ?? "").trim()
    const columns = header === "t_ms,session" ? 2 : header === "t_ms,session,action" ? 3 : 0
    if (columns === 0) {
      return yield* bad(`the first line must be the header t_ms,session or t_ms,session,action, got ${JSON.stringify(header.slice(0, 60))}`)
    }
    const rows: Array<TraceRow> = []
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!
      if (line.trim() === "") continue
      rows.push(yield* parseRow(line, i + 1, columns, rows.at(-1)?.t ?? 0))
    }
    return rows
  })
