/**
 * `npm run bench:autoscale`: replays each trace in bench/traces through the simulator (the built package's
 * `simulate`, in plain Node) under static configs and under `autoscale: true`, and writes the table between
 * the autoscale markers of BENCHMARKS.md. `--no-write` prints it only.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { runCli } from "../dist/cli.js"

const traces = ["steady", "diurnal", "spike"]
const statics = [0, 1, 2, 3, 4, 6]
const base = { maxContainers: 200 }
const seed = 1
const configs = [
  ...statics.map((min) => ({ label: `static minContainers=${min}`, config: { ...base, minContainers: min } })),
  { label: "autoscale (minContainers=0)", config: { ...base, minContainers: 0, autoscale: true }, autoscale: true }
]

const run = async (trace, config) => {
  const out = await runCli([
    "simulate", "--trace", new URL(`traces/${trace}.csv`, import.meta.url).pathname,
    "--config", JSON.stringify(config), "--seed", String(seed)
  ])
  if (out.code !== 0) throw new Error(out.stderr.join("\n"))
  return JSON.parse(out.stdout.at(-1))
}

const began = Date.now()
const rows = []
const verdicts = []
for (const trace of traces) {
  const results = []
  for (const { label, config, autoscale } of configs) {
    const t = Date.now()
    const result = await run(trace, config)
    results.push({ label, autoscale, result })
    console.log(`${trace} ${label}: ${JSON.stringify(result)} (${((Date.now() - t) / 1000).toFixed(1)} s)`)
  }
  const auto = results.find((r) => r.autoscale).result
  const beaten = results.filter((r) => !r.autoscale && r.result.hitRate >= auto.hitRate &&
    r.result.idleContainerSeconds <= auto.idleContainerSeconds)
  verdicts.push(`- **${trace}**: no static config beats autoscale on both hit rate and idle container-seconds: ${
    beaten.length === 0 ? "**met**" : `**not met** (${beaten.map((r) => r.label).join(", ")})`
  }.`)
  if (trace === "diurnal") {
    const peers = results.filter((r) => !r.autoscale && r.result.hitRate >= auto.hitRate)
    const cheapest = peers.sort((a, b) => a.result.idleContainerSeconds - b.result.idleContainerSeconds)[0]
    const ratio = cheapest === undefined ? undefined : auto.idleContainerSeconds / cheapest.result.idleContainerSeconds
    const met = auto.hitRate >= 0.95 && (cheapest === undefined || ratio <= 0.6)
    verdicts.push(`- **diurnal**: autoscale hit rate ${(auto.hitRate * 100).toFixed(1)}% (goal ≥ 95%), idle container-seconds ${
      cheapest === undefined
        ? "with no static config reaching its hit rate"
        : `${(ratio * 100).toFixed(0)}% of the cheapest static config with the same hit rate (${cheapest.label}; goal ≤ 60%)`
    }: **${met ? "met" : "not met"}**.`)
  }
  for (const { label, result: r } of results) {
    rows.push(`| ${trace} | ${label} | ${(r.hitRate * 100).toFixed(1)}% | ${r.p95WaitMs} | ${
      Math.round(r.idleContainerSeconds).toLocaleString("en-US")
    } | ${Math.round(r.containerSeconds).toLocaleString("en-US")} | ${r.starts} | ${r.exhausted} |`)
  }
}

const seconds = Math.round((Date.now() - began) / 1000)
const section = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, node ${process.version}; seed ${seed}, starts log-normal with median 2000 ms and p95 8000 ms (the defaults). \`npm run bench:autoscale\` took ${seconds} s.`,
  "",
  "| trace | config | hit rate | p95 wait ms | idle container-s | container-s | starts | exhausted |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows,
  "",
  "**Goals.**",
  ...verdicts
].join("\n")
console.log(`\n${section}`)

if (!process.argv.includes("--no-write")) {
  const path = new URL("../BENCHMARKS.md", import.meta.url)
  const doc = readFileSync(path, "utf8")
  const begin = "<!-- bench:autoscale:begin -->"
  const end = "<!-- bench:autoscale:end -->"
  if (!doc.includes(begin) || !doc.includes(end)) throw new Error("BENCHMARKS.md lacks the autoscale markers")
  writeFileSync(path, `${doc.slice(0, doc.indexOf(begin) + begin.length)}\n${section}\n${doc.slice(doc.indexOf(end))}`)
}
