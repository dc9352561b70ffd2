import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { runCli } from "../../src/cli.js"

const dir = mkdtempSync(join(tmpdir(), "wp-sim-"))
const traceFile = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

const simulate = async (args: ReadonlyArray<string>) => {
  const out = await runCli(["simulate", ...args])
  return { ...out, result: out.code === 0 ? JSON.parse(out.stdout.at(-1)!) : undefined }
}

// Starts take exactly 1 s (median = p95), so the answer can be worked out by hand.
const exact = ["--start-ms", "1000,1000"]

describe("cf-container-warm-pool simulate", () => {
  it("agrees with a hand computation: a cold start, two warm hits, and the refills they set off", async () => {
    // 0: "a" finds nothing warm: a cold start (1 s); its refill starts at 1 s and is warm at 2 s.
    // 2.5 s: "b" takes it (warm); its refill is warm at 3.5 s. 4 s: "c" takes that one; a last refill begins.
    const trace = traceFile("hand.csv", "t_ms,session\n0,a\n2500,b\n4000,c\n")
    const { code, result } = await simulate(["--trace", trace, ...exact, "--config", '{"minContainers":1,"maxContainers":5}'])
    expect(code).toBe(0)
    expect(result).toEqual({
      requests: 3,
      newSessions: 3,
      warmHits: 2,
      coldStarts: 1,
      exhausted: 0,
      failed: 0,
      hitRate: 0.6667,
      p95WaitMs: 1000,
      // a: 0–4 s; first refill 1–4 s; second 2.5–4 s.
      containerSeconds: 8.5,
      // Warm and unleased: 2–2.5 s and 3.5–4 s.
      idleContainerSeconds: 1,
      starts: 4
    })
  })

  it("counts sticky calls, PoolExhausted and releases as the engine answers them", async () => {
    const trace = traceFile(
      "cap.csv",
      "t_ms,session,action\n0,a,get\n2000,a,get\n3000,b,get\n4000,a,release\n5000,c,get\n"
    )
    const config = '{"minContainers":0,"maxContainers":1,"stickyCacheSize":0}'
    const { result } = await simulate(["--trace", trace, ...exact, "--config", config])
    expect(result).toMatchObject({
      requests: 4,
      newSessions: 3,
      warmHits: 0,
      coldStarts: 2,
      exhausted: 1,
      starts: 2,
      // a runs 0–4 s; c starts at 5 s, the trace's end.
      containerSeconds: 4
    })
  })

  it("is deterministic for a seed, and the seed matters", async () => {
    const rows = Array.from({ length: 200 }, (_, i) => `${i * 700},s${i % 37}`)
    const trace = traceFile("seeded.csv", `t_ms,session\n${rows.join("\n")}\n`)
    const run = (seed: string) => simulate(["--trace", trace, "--seed", seed, "--config", '{"minContainers":1}'])
    const [first, again, other] = [await run("7"), await run("7"), await run("8")]
    expect(first.stdout.at(-1)).toBe(again.stdout.at(-1))
    expect(first.result.containerSeconds).not.toBe(other.result.containerSeconds)
  })

  it("refuses bad input with a clear message and exit code 2", async () => {
    const good = traceFile("good.csv", "t_ms,session\n0,a\n")
    const cases: Array<[ReadonlyArray<string>, string]> = [
      [[], "--trace FILE is required"],
      [["--trace", join(dir, "missing.csv")], "--trace: cannot read"],
      [["--trace", traceFile("header.csv", "time,id\n0,a\n")], "the first line must be the header"],
      [["--trace", traceFile("order.csv", "t_ms,session\n10,a\n5,b\n")], "line 3: rows must be sorted by t_ms"],
      [["--trace", traceFile("action.csv", "t_ms,session,action\n0,a,put\n")], "line 2: action must be get or release"],
      [["--trace", traceFile("time.csv", "t_ms,session\n-1,a\n")], "line 2: t_ms must be an integer"],
      [["--trace", good, "--config", "{"], "--config: is not JSON"],
      [["--trace", good, "--config", '{"minContainers":-1}'], "--config: minContainers must be an integer from 0"],
      [["--trace", good, "--config", '{"colour":"blue"}'], "--config: colour is not a known option"],
      [["--trace", good, "--start-ms", "8000,2000"], "--start-ms: must be P50,P95"],
      [["--trace", good, "--seed", "x"], "--seed: must be an integer"],
      [["--trace", good, "--speed", "9"], "unknown option"]
    ]
    for (const [args, message] of cases) {
      const out = await runCli(["simulate", ...args])
      expect(out.code, message).toBe(2)
      expect(out.stderr.join("\n")).toContain(message)
      expect(out.stdout).toEqual([])
    }
    expect((await runCli(["simulat"])).code).toBe(2)
  })
})
