// `npm run bench:e2e`: time to first byte through the example Worker, against real containers.
// Starts `wrangler dev` (after scripts/dev-setup.sh), then measures from Node over loopback:
//   - a new session served from the warm set,
//   - the first request to a warm container assigned earlier, once nothing else is starting or stopping,
//   - a new session that needs a cold start,
//   - a request on an existing session,
// and prints medians, p95s and the cold/warm ratio.
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"

const port = Number(process.env.PORT ?? 8799)
const base = `http://127.0.0.1:${port}`
const samples = { warm: Number(process.env.WARM_SAMPLES ?? 30), settled: Number(process.env.SETTLED_SAMPLES ?? 30), cold: Number(process.env.COLD_SAMPLES ?? 10), sticky: Number(process.env.STICKY_SAMPLES ?? 100) }

// A fresh state directory: measurements start from an empty pool, whatever earlier runs left.
const state = mkdtempSync(join(tmpdir(), "warm-pool-bench-"))
const dev = spawn("bash", [new URL("./dev.sh", import.meta.url).pathname, "--persist-to", state], {
  env: { ...process.env, PORT: String(port), WRANGLER_SEND_METRICS: "false" },
  stdio: ["ignore", "pipe", "pipe"],
  detached: true
})
let devLog = ""
dev.stdout.on("data", (chunk) => (devLog += chunk))
dev.stderr.on("data", (chunk) => (devLog += chunk))
const stop = () => {
  try {
    process.kill(-dev.pid, "SIGINT")
  } catch {}
  rmSync(state, { recursive: true, force: true })
}
process.on("exit", stop)

const ttfb = async (path, init) => {
  const start = performance.now()
  const response = await fetch(`${base}${path}`, init)
  const elapsed = performance.now() - start
  const body = await response.text()
  if (!response.ok) throw new Error(`${path}: ${response.status} ${body}`)
  return { ms: elapsed, body: JSON.parse(body), headers: response.headers }
}
const post = (path) => ttfb(path, { method: "POST" })
const stats = async () => (await ttfb("/stats")).body

const until = async (what, check, tries = 300) => {
  for (let i = 0; i < tries; i++) {
    try {
      if (await check()) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}\n${devLog.slice(-2000)}`)
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}
const median = (values) => quantile(values, 0.5)

// Each series keeps the TTFB seen from Node, and the Worker's own split of it (x-pool-ms, x-container-ms).
const record = (series, sample) => {
  series.push(sample.ms)
  ;(series.split ??= []).push([Number(sample.headers.get("x-pool-ms")), Number(sample.headers.get("x-container-ms"))])
}

try {
  await until("wrangler dev", async () => (await fetch(`${base}/stats`)).ok)
  let serial = 0
  const newId = (kind) => `${kind}-${Date.now()}-${++serial}`

  // A first request compiles the Worker's route: keep it out of the samples.
  await ttfb(`/session/bench-warmup/`)
  await post(`/session/bench-warmup/release`)

  // Nothing starting or stopping: a full warm set, and the last release's container gone.
  const settled = async () => {
    const s = await stats()
    return s.warm >= s.config.minContainers && s.warming === 0 && s.stopping === 0
  }

  // Warm: wait for a full warm set, take one container, release it, repeat.
  // Taking a container starts its refill at once, so the request runs while Docker starts another container.
  const warm = []
  for (let i = 0; i < samples.warm; i++) {
    await until("a full warm set", settled)
    const id = newId("warm")
    record(warm, await ttfb(`/session/${id}/`))
    await post(`/session/${id}/release`)
  }

  // Settled: assign a warm container without using it, wait until its refill is done, then send its first
  // request (served from the sticky cache). The first request to a container the Worker never reached, alone.
  const firstSettled = []
  for (let i = 0; i < samples.settled; i++) {
    await until("a full warm set", settled)
    const id = newId("settled")
    await post(`/session/${id}/assign`)
    await until("the refill", settled)
    record(firstSettled, await ttfb(`/session/${id}/`))
    await post(`/session/${id}/release`)
  }

  // Cold: after a shutdown nothing is warm, so the next new session starts its container.
  const cold = []
  for (let i = 0; i < samples.cold; i++) {
    await post("/shutdown")
    const id = newId("cold")
    record(cold, await ttfb(`/session/${id}/`))
    await post(`/session/${id}/release`)
  }

  // Sticky: one session, many requests; interleaved with direct requests to the same container,
  // which bypass the pool, so both see the same noise.
  const stickyId = newId("sticky")
  await ttfb(`/session/${stickyId}/`)
  const sticky = []
  const direct = []
  for (let i = 0; i < samples.sticky; i++) {
    record(sticky, await ttfb(`/session/${stickyId}/`))
    record(direct, await ttfb(`/direct/session/${stickyId}/`))
  }
  await post("/shutdown")

  const row = (name, values) =>
    `| ${name} | ${values.length} | ${median(values).toFixed(1)} | ${quantile(values, 0.95).toFixed(1)} | ` +
    `${median(values.split.map(([pool]) => pool)).toFixed(0)} | ${median(values.split.map(([, container]) => container)).toFixed(0)} |`
  console.log(`\nTime to first byte through the example Worker (wrangler dev, real containers)`)
  console.log(`${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}, node ${process.version}\n`)
  console.log("| request | samples | median ms | p95 ms | in the pool (median ms) | in the container (median ms) |")
  console.log("| --- | --- | --- | --- | --- | --- |")
  console.log(row("new session, served warm", warm))
  console.log(row("first request to a warm container, refill done", firstSettled))
  if (process.env.BENCH_VERBOSE) console.log({ warm, cold })
  console.log(row("new session, cold start", cold))
  console.log(row("existing session (sticky)", sticky))
  console.log(row("direct to the same container, no pool", direct))
  const ratio = (a, b) => `${(a / b).toFixed(2)}x`
  console.log(`\ncold / warm median: ${ratio(median(cold), median(warm))}`)
  console.log(`sticky / direct: median ${ratio(median(sticky), median(direct))}, p95 ${ratio(quantile(sticky, 0.95), quantile(direct, 0.95))} (target <= 1.1x)`)
  console.log(`warm new session / direct: median ${ratio(median(warm), median(direct))}, p95 ${ratio(quantile(warm, 0.95), quantile(direct, 0.95))} (target <= 1.5x)`)
  console.log(`first request, refill done / direct: median ${ratio(median(firstSettled), median(direct))}, p95 ${ratio(quantile(firstSettled, 0.95), quantile(direct, 0.95))}`)
} finally {
  stop()
}
