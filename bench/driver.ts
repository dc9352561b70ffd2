/**
 * The benchmark's driver Worker. Node sends it one request per benchmark round (see run.mjs);
 * it runs batches of pool operations through the real client and reports, per batch, the
 * time, the pool round trips (counted on an instrumented namespace), the pool's SQLite rows
 * read and written, and the calls that reached the stand-in containers.
 *
 * Workerd's clock moves only on I/O and in 1 ms steps, so batches are timed, not calls.
 */
import { createWarmPool, StickyCache } from "../src/index.js"
import type { WarmPoolHandle } from "../src/index.js"
import { countingNamespace } from "../test/support/countingNamespace.js"
import type { StandInContainer } from "./standins.js"
import type { WarmPool } from "./pool.js"

interface Env {
  WARM_POOL: DurableObjectNamespace<WarmPool>
  CONTAINER: DurableObjectNamespace<StandInContainer>
}

export interface BatchResult {
  readonly op: string
  readonly ops: number
  readonly ms: number
  readonly poolRpcs: number
  readonly rowsRead: number
  readonly rowsWritten: number
  readonly containerCalls: number
}

interface Bench {
  readonly rpc: ReturnType<typeof countingNamespace<DurableObjectNamespace<WarmPool>>>
  readonly cached: WarmPoolHandle<StandInContainer>
  readonly uncached: WarmPoolHandle<StandInContainer>
  readonly sticky: ReadonlyArray<string>
}

// Kept across requests: the driver isolate lives for the whole run, as a Worker isolate would,
// and so do the handles' sticky caches. Handles make their stubs per call.
const benches = new Map<string, Bench>()

const HOUR = 3_600_000

const configFor = (name: string, batch: number) => ({
  name,
  minContainers: batch,
  maxContainers: 1_000_000,
  // Leases, checks and cache grants outlive the run: only the benchmark decides what falls due, and a
  // cached hit never renews in the background, however long a loaded machine takes (renewals have their row).
  acquireTimeout: 4 * HOUR,
  healthCheckInterval: HOUR,
  stickyCacheTtl: 2 * HOUR
})

const setup = async (env: Env, name: string, sessions: number, batch: number, stickyIds: number) => {
  const raw = env.WARM_POOL.get(env.WARM_POOL.idFromName(name))
  const rpc = countingNamespace(env.WARM_POOL)
  const config = configFor(name, batch)
  const cached = createWarmPool(rpc.namespace, env.CONTAINER, config, StickyCache.make())
  const uncached = createWarmPool(rpc.namespace, env.CONTAINER, { ...config, stickyCacheSize: 0 })
  await uncached.stats() // the pool creates its tables on first use
  const began = Date.now()
  await raw.seed(name, sessions, Date.now() + 4 * HOUR, Date.now() + HOUR, HOUR)
  const seededMs = Date.now() - began
  await cached.warmup()
  await raw.settled()
  await raw.disarm()
  // `stickyIds` sessions, spread evenly over the N seeded, called in turn to make up a batch: the same
  // working set at every N, so a row's ratio measures N and not how many distinct rows a batch touches.
  const distinct = Array.from({ length: stickyIds }, (_, i) => `seeded-${Math.floor(((i + 0.5) * sessions) / stickyIds)}`)
  const sticky = Array.from({ length: batch }, (_, i) => distinct[i % stickyIds]!)
  for (const id of distinct) await cached.getContainer(id) // fills the cache
  benches.set(name, { rpc, cached, uncached, sticky })
  const stats = await uncached.stats()
  return { seededMs, stats: { sessions: stats.sessions, acquired: stats.acquired, warm: stats.warm, total: stats.total } }
}

const round = async (env: Env, name: string, index: number, cachedRepeat: number) => {
  const bench = benches.get(name)
  if (bench === undefined) throw new Error(`no bench ${name}: set it up first`)
  const { cached, rpc, sticky, uncached } = bench
  // Stubs belong to the request that made them: this round's are made here.
  const raw = env.WARM_POOL.get(env.WARM_POOL.idFromName(name))
  const clock = env.CONTAINER.get(env.CONTAINER.idFromName("__clock"))
  const counters = env.CONTAINER.get(env.CONTAINER.idFromName("__counters"))
  const results: Array<BatchResult & { readonly keepAlives: number }> = []

  const measure = async (op: string, ops: number, body: () => Promise<unknown>) => {
    await raw.settled()
    await raw.takeSqlCounters()
    await counters.takeCalls()
    rpc.reset()
    const began = Date.now()
    await body()
    await clock.ping() // the clock moves only on I/O: make sure it has seen the whole batch
    const ms = Date.now() - began
    await rpc.settled() // background renewals count too
    await raw.settled() // and so do the refills and stops an operation set off
    const sql = await raw.takeSqlCounters()
    const calls = await counters.takeCalls()
    results.push({
      op,
      ops,
      ms,
      poolRpcs: rpc.count(),
      rowsRead: sql.rowsRead,
      rowsWritten: sql.rowsWritten,
      containerCalls: calls.starts + calls.getStates + calls.keepAlives + calls.destroys,
      keepAlives: calls.keepAlives
    })
  }
  const each = (ids: ReadonlyArray<string>, call: (id: string) => Promise<unknown>) => async () => {
    for (const id of ids) await call(id)
  }

  const fresh = sticky.map((_, i) => `new-${index}-${i}`)
  await measure("sticky getContainer (cached)", sticky.length * cachedRepeat, async () => {
    for (let r = 0; r < cachedRepeat; r++) for (const id of sticky) await cached.getContainer(id)
  })
  await measure("sticky getContainer (no cache)", sticky.length, each(sticky, (id) => uncached.getContainer(id)))
  await measure("new id, served warm", fresh.length, each(fresh, (id) => cached.getContainer(id)))
  await measure("releaseContainer", fresh.length, each(fresh, (id) => cached.releaseContainer(id)))
  await measure("stats()", sticky.length, each(sticky, () => uncached.stats()))
  await raw.makeDue(256)
  await measure("alarm tick", 1, async () => {
    const report = await raw.tick()
    if (report.failures.length > 0) throw new Error(`tick failed: ${report.failures.join(", ")}`)
  })
  await raw.disarm()
  // The tick is the alarm's, not a client's: its one RPC here is the benchmark's trigger.
  const tick = { ...results.pop()!, poolRpcs: 0 }
  results.push(tick)
  // A tick's work grows with the slots it checks (at most a page): its cost per slot checked.
  const checked = tick.containerCalls - tick.keepAlives
  if (checked > 0) results.push({ ...tick, op: "alarm tick, per slot checked", ops: checked })
  return results.map(({ keepAlives: _, ...result }) => result)
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const body = (await request.json()) as Record<string, any>
    try {
      const url = new URL(request.url)
      if (url.pathname === "/setup") return Response.json(await setup(env, body.name, body.sessions, body.batch, body.stickyIds))
      if (url.pathname === "/round") return Response.json(await round(env, body.name, body.index, body.cachedRepeat))
      return new Response("not found", { status: 404 })
    } catch (error) {
      return new Response(error instanceof Error ? error.stack ?? error.message : String(error), { status: 500 })
    }
  }
}
