/**
 * `npm run bench:simulate`: the speed goal for the simulator, one simulated day of 100,000
 * requests in at most 60 s on a 2-core machine. Generates the day (the diurnal shape, 7× its traffic,
 * seed 9) into a temporary file, runs the built `simulate` on it under a static config and under
 * autoscale, and prints wall and CPU seconds per run. `--autoscale-only` / `--static-only` run one.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runCli } from "../dist/cli.js"
import { generate, traces } from "./traces/generate.mjs"

// `--scale F` multiplies the traffic (for profiling a shorter run); 7.1× the diurnal trace makes 100,000 gets.
const scaleAt = process.argv.indexOf("--scale")
const scale = scaleAt === -1 ? 7.1 : Number(process.argv[scaleAt + 1])
const busyDay = { seed: 9, durationMs: traces.diurnal.durationMs, rate: (t) => scale * traces.diurnal.rate(t) }
const csv = generate(busyDay)
const gets = csv.split("\n").filter((line) => line.endsWith(",get")).length
const dir = mkdtempSync(join(tmpdir(), "wp-sim-"))
const file = join(dir, "busy-day.csv")
writeFileSync(file, csv)

const configs = [
  { label: "static minContainers=10", config: { maxContainers: 400, minContainers: 10 } },
  { label: "autoscale", config: { maxContainers: 400, minContainers: 0, autoscale: true } }
].filter(({ label }) =>
  process.argv.includes("--autoscale-only") ? label === "autoscale" : process.argv.includes("--static-only") ? label !== "autoscale" : true
)

console.log(`busy day: ${gets.toLocaleString("en-US")} get rows, ${csv.split("\n").length - 2} rows in all`)
try {
  for (const { config, label } of configs) {
    const cpu = process.cpuUsage()
    const wall = performance.now()
    const out = await runCli(["simulate", "--trace", file, "--config", JSON.stringify(config), "--seed", "1"])
    const used = process.cpuUsage(cpu)
    if (out.code !== 0) throw new Error(out.stderr.join("\n"))
    const result = JSON.parse(out.stdout.at(-1))
    console.log(`${label}: ${((performance.now() - wall) / 1000).toFixed(1)} s wall, ${
      ((used.user + used.system) / 1e6).toFixed(1)
    } s CPU (goal: 60 s); requests ${result.requests}, new sessions ${result.newSessions}, hit rate ${result.hitRate}`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
