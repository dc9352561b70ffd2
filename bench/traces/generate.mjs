/**
 * Generates the autoscale benchmark's traces, deterministically from their seeds:
 *   node bench/traces/generate.mjs            # writes steady.csv, diurnal.csv and spike.csv here
 *
 * New sessions arrive as a Poisson process whose rate follows each trace's shape. A session makes a
 * geometric number of requests (mean 3) spread over a heavy-tailed length (Pareto, α = 1.5, at least
 * 20 s, at most 1 h); 80 % end with a release, the rest are left to expire.
 */
import { writeFileSync } from "node:fs"

/** mulberry32, as the simulator uses. */
const seeded = (seed) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const HOUR = 3_600_000

/** Each trace: its seed, its length, and its arrival rate (new sessions per second) at time t. */
export const traces = {
  steady: { seed: 1, durationMs: 2 * HOUR, rate: () => 0.25 },
  diurnal: {
    seed: 2,
    durationMs: 24 * HOUR,
    // Quiet night, ramps at 8:00 and 18:00, a busy working day between.
    rate: (t) => {
      const h = t / HOUR
      const day = h < 7 || h >= 19 ? 0 : h < 9 ? (h - 7) / 2 : h < 17 ? 1 : (19 - h) / 2
      return 0.005 + 0.12 * day
    }
  },
  spike: {
    seed: 3,
    durationMs: 2 * HOUR,
    rate: (t) => (t >= HOUR && t < HOUR + 10 * 60_000 ? 0.5 : 0.05)
  }
}

const session = (random, id, start, rows) => {
  const u = Math.max(random(), 1e-12)
  const length = Math.min(HOUR, 20_000 * u ** (-1 / 1.5))
  let requests = 1
  while (random() < 2 / 3) requests++
  for (let i = 0; i < requests; i++) {
    const at = i === 0 ? start : start + Math.round((length * i) / requests)
    rows.push([Math.round(at), id, "get"])
  }
  if (random() < 0.8) rows.push([Math.round(start + length), id, "release"])
}

export const generate = ({ seed, durationMs, rate }) => {
  const random = seeded(seed)
  const peak = Math.max(...Array.from({ length: 1000 }, (_, i) => rate((durationMs * i) / 1000)))
  const rows = []
  let t = 0
  let n = 0
  // Thinning: candidates at the peak rate, each kept with probability rate(t) / peak.
  for (;;) {
    t += (-Math.log(Math.max(random(), 1e-12)) / peak) * 1000
    if (t >= durationMs) break
    if (random() < rate(t) / peak) session(random, `s${++n}`, t, rows)
  }
  const kept = rows.filter(([at]) => at < durationMs).sort((a, b) => a[0] - b[0])
  return `t_ms,session,action\n${kept.map((row) => row.join(",")).join("\n")}\n`
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, spec] of Object.entries(traces)) {
    const csv = generate(spec)
    writeFileSync(new URL(`${name}.csv`, import.meta.url), csv)
    console.log(`${name}.csv: ${csv.split("\n").length - 2} rows, seed ${spec.seed}`)
  }
}
