#!/usr/bin/env node
/**
 * npm run bench: the pool's cost per operation as it tracks more sessions.
 *
 * Three Workers run in one workerd under Miniflare: the driver (bench/driver.ts) that calls
 * the pool through the real client; the real WarmPool Durable Object on SQLite, its cursors
 * counted (bench/pool.ts); and ephemeral stand-in containers that start instantly
 * (bench/standins.ts). Each is bundled with esbuild first, so no test harness wraps them.
 *
 *   node bench/run.mjs            full run: N = 10, 1000, 10000, 100000; writes BENCHMARKS.md
 *   node bench/run.mjs --smoke    a few seconds: N = 10, 1000; writes nothing (CI)
 */
import { build } from "esbuild"
import { execSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import os from "node:os"
import { Miniflare } from "miniflare"

const smoke = process.argv.includes("--smoke")
const flag = (name) => {
  const at = process.argv.indexOf(name)
  return at === -1 ? undefined : process.argv[at + 1]
}
const plan = smoke
  ? { sizes: [10, 1_000], rounds: 3, batch: 10, cachedRepeat: 50 }
  : { sizes: [10, 1_000, 10_000, 100_000], rounds: 30, batch: 100, cachedRepeat: 100 }
// Experiments: --sizes 10,100000 --rounds 10 run a subset and write nothing.
const experiment = ["--sizes", "--rounds", "--sticky-ids"].some((name) => flag(name) !== undefined)
if (flag("--sizes") !== undefined) plan.sizes = flag("--sizes").split(",").map(Number)
if (flag("--rounds") !== undefined) plan.rounds = Number(flag("--rounds"))
// Sticky calls cycle over this many sessions at every N (the smallest N unless --sticky-ids says otherwise).
plan.stickyIds = Number(flag("--sticky-ids") ?? Math.min(plan.batch, ...plan.sizes))

const root = new URL("../", import.meta.url)
const out = new URL(".tmp/bench/", root)
mkdirSync(out, { recursive: true })

const bundle = async (entry, file) => {
  await build({
    entryPoints: [new URL(entry, root).pathname],
    outfile: new URL(file, out).pathname,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    external: ["cloudflare:*"],
    mainFields: ["module", "main"],
    logLevel: "warning"
  })
  return new URL(file, out).pathname
}

const worker = (name, scriptPath, extra) => ({
  name,
  modules: true,
  scriptPath,
  compatibilityDate: "2026-03-01",
  ...extra
})

const [driver, pool, standins] = await Promise.all([
  bundle("bench/driver.ts", "driver.mjs"),
  bundle("bench/pool.ts", "pool.mjs"),
  bundle("bench/standins.ts", "standins.mjs")
])

const mf = new Miniflare({
  workers: [
    worker("driver", driver, {
      durableObjects: {
        WARM_POOL: { className: "WarmPool", scriptName: "pool", useSQLite: true },
        CONTAINER: { className: "StandInContainer", scriptName: "standins" }
      }
    }),
    worker("pool", pool, {
      durableObjects: {
        WARM_POOL: { className: "WarmPool", useSQLite: true },
        CONTAINER: { className: "StandInContainer", scriptName: "standins" }
      }
    }),
    worker("standins", standins, {
      durableObjects: { CONTAINER: "StandInContainer" },
      unsafeEphemeralDurableObjects: true
    })
  ]
})

const post = async (path, body) => {
  const response = await mf.dispatchFetch(`http://driver${path}`, { method: "POST", body: JSON.stringify(body) })
  const text = await response.text()
  if (!response.ok) throw new Error(`${path} failed: ${text}`)
  return JSON.parse(text)
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length

const started = Date.now()
const rows = [] // { n, op, median, p95, poolRpcs, rowsRead, rowsWritten, containerCalls }
try {
  for (const n of plan.sizes) {
    const name = `bench-${n}-${Date.now()}`
    const { seededMs, stats } = await post("/setup", { name, sessions: n, batch: plan.batch, stickyIds: Math.min(plan.stickyIds, n) })
    if (stats.sessions !== n) throw new Error(`seeded ${stats.sessions} sessions, expected ${n}`)
    process.stderr.write(`N=${n}: seeded in ${seededMs} ms; ${JSON.stringify(stats)}\n`)
    const byOp = new Map()
    for (let index = 0; index < plan.rounds; index++) {
      for (const result of await post("/round", { name, index, cachedRepeat: plan.cachedRepeat })) {
        if (!byOp.has(result.op)) byOp.set(result.op, [])
        byOp.get(result.op).push(result)
      }
    }
    for (const [op, results] of byOp) {
      const perOp = results.map((r) => r.ms / r.ops)
      const per = (key) => mean(results.map((r) => r[key] / r.ops))
      rows.push({
        n,
        op,
        median: quantile(perOp, 0.5),
        p95: quantile(perOp, 0.95),
        batch: results[0].ops,
        poolRpcs: per("poolRpcs"),
        rowsRead: per("rowsRead"),
        rowsWritten: per("rowsWritten"),
        containerCalls: per("containerCalls")
      })
    }
  }
} finally {
  await mf.dispose()
}

const ms = (v) => (v < 0.01 ? v.toFixed(4) : v < 1 ? v.toFixed(3) : v.toFixed(1))
const num = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2))
const ops = [...new Set(rows.map((r) => r.op))]
const header = "| op | N | median ms/op | p95 ms/op | batch | pool RPCs/op | rows read/op | rows written/op | container calls/op |"
const table = [header, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for (const op of ops) {
  for (const r of rows.filter((row) => row.op === op)) {
    table.push(
      `| ${op} | ${r.n.toLocaleString("en-US")} | ${ms(r.median)} | ${ms(r.p95)} | ${r.batch} | ${num(r.poolRpcs)} | ` +
        `${num(r.rowsRead)} | ${num(r.rowsWritten)} | ${num(r.containerCalls)} |`
    )
  }
}
const [smallest, largest] = [plan.sizes[0], plan.sizes[plan.sizes.length - 1]]
const ratios = [`| op | median ratio N=${largest.toLocaleString("en-US")} / N=${smallest} | rows read ratio |`, "| --- | ---: | ---: |"]
for (const op of ops) {
  const a = rows.find((r) => r.op === op && r.n === smallest)
  const b = rows.find((r) => r.op === op && r.n === largest)
  const ratio = a.median > 0 ? (b.median / a.median).toFixed(2) : "n/a (below clock resolution)"
  const readRatio = a.rowsRead > 0 ? (b.rowsRead / a.rowsRead).toFixed(2) : "n/a"
  ratios.push(`| ${op} | ${ratio} | ${readRatio} |`)
}

// Counts, unlike times, are exact: a change in them is a regression, in the smoke run too.
const problems = []
for (const op of ops) {
  const mine = rows.filter((r) => r.op === op)
  const expectedRpcs = op.includes("(cached)") || op.startsWith("alarm tick") ? 0 : 1
  if (mine.some((r) => r.poolRpcs !== expectedRpcs)) problems.push(`${op}: expected ${expectedRpcs} pool RPC(s) per call`)
  if (!op.startsWith("alarm tick") && new Set(mine.map((r) => r.rowsRead)).size > 1) {
    problems.push(`${op}: rows read per call change with N (${mine.map((r) => r.rowsRead).join(", ")})`)
  }
}
if (rows.some((r) => r.op === "stats()" && r.rowsRead > 8)) problems.push("stats() reads more than 8 rows")

const tookS = ((Date.now() - started) / 1000).toFixed(0)
const cpu = (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/) ?? [])[1] ?? os.cpus()[0]?.model
const nproc = (() => {
  try {
    return execSync("nproc").toString().trim()
  } catch {
    return String(os.cpus().length)
  }
})()
const machine = `${nproc} cores (nproc), ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${os.platform()} ${os.release()}`
const method = `${plan.rounds} rounds per N; each row is the median and p95 over rounds of a batch mean ` +
  `(batch = calls per round, timed in workerd, whose clock has 1 ms steps and moves only on I/O).`

console.log(`\n${table.join("\n")}\n\n${ratios.join("\n")}\n\n${method}\nMachine: ${machine}. Run took ${tookS} s.`)

if (problems.length > 0) {
  console.error(`\nBenchmark checks failed:\n- ${problems.join("\n- ")}`)
  process.exit(1)
}
console.log("Checks passed: pool RPCs per call and rows read per call do not change with N.")

if (!smoke && !experiment) {
  const date = new Date().toISOString().slice(0, 10)
  const path = new URL("BENCHMARKS.md", root)
  const previous = readFileSync(path, "utf8")
  const begin = "<!-- bench:begin -->"
  const end = "<!-- bench:end -->"
  const results = `${begin}\nMeasured ${date} on ${machine}. \`npm run bench\` took ${tookS} s.\n` +
    `${method}\n\n${table.join("\n")}\n\n${ratios.join("\n")}\n${end}`
  const at = previous.indexOf(begin)
  const updated = at < 0 ? `${previous}\n${results}\n` : previous.slice(0, at) + results + previous.slice(previous.indexOf(end) + end.length)
  writeFileSync(path, updated)
  console.log("BENCHMARKS.md updated.")
}
