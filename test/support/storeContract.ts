/**
 * One contract for every PoolStore: the in-memory store (unit) and SQLite (workerd).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { PoolStoreService } from "../../src/PoolStore.js"
import type { SlotCounts } from "../../src/Slot.js"
import { emptyCounts } from "../../src/Slot.js"

let serial = 0
const names = () => () => `c-${++serial}`
const run = <A>(effect: Effect.Effect<A>) => Effect.runPromise(effect)
const terms = (expiresAt: number, cachedUntil = 0) => ({ expiresAt, cachedUntil })

/** Counts recomputed from the rows, to check the maintained ones. */
export const recount = async (store: PoolStoreService): Promise<SlotCounts> => {
  const { leases, slots } = await run(store.snapshot)
  const counts: Record<string, number> = { ...emptyCounts, sessions: leases.length }
  for (const slot of slots) counts[slot.state]!++
  return counts as unknown as SlotCounts
}

/** `withStore` runs a test body against a fresh store, inside whatever context the store needs. */
export const storeContract = (
  label: string,
  withStore: (body: (store: PoolStoreService) => Promise<void>) => Promise<void>
) => {
  describe(`PoolStore contract: ${label}`, () => {
    const reserve = (store: PoolStoreService, state: "warming" | "starting", n: number, sessionId: string | null = null) =>
      run(store.reserve({ state, sessionId, howMany: () => n, newName: names(), checkDueAt: 0 }))

    const expectCountsConsistent = async (store: PoolStoreService) => {
      expect(await run(store.counts)).toEqual(await recount(store))
    }

    it("reserves, promotes and assigns warm slots, keeping counts", () =>
      withStore(async (store) => {
        const [a, b] = await reserve(store, "warming", 2)
        expect(await run(store.counts)).toMatchObject({ warming: 2, warm: 0 })
        expect(await run(store.promote(a!, 100))).toBe(true)
        expect(await run(store.promote(a!, 100))).toBe(false)
        expect(await run(store.counts)).toMatchObject({ warming: 1, warm: 1 })
        expect(await run(store.assignWarm("s1", terms(500)))).toBe(a)
        expect(await run(store.assignWarm("s2", terms(500)))).toBeUndefined()
        expect(await run(store.lease("s1"))).toEqual({ sessionId: "s1", container: a, expiresAt: 500, cachedUntil: 0 })
        expect(await run(store.counts)).toMatchObject({ warming: 1, warm: 0, acquired: 1, sessions: 1 })
        expect(b).toBeDefined()
        await expectCountsConsistent(store)
      }))

    it("does not assign a second container to a session that holds one", () =>
      withStore(async (store) => {
        const [a, b] = await reserve(store, "warming", 2)
        await run(store.promote(a!, 0))
        await run(store.promote(b!, 0))
        expect(await run(store.assignWarm("s", terms(1)))).toBeDefined()
        expect(await run(store.assignWarm("s", terms(1)))).toBeUndefined()
        expect(await run(store.counts)).toMatchObject({ warm: 1, acquired: 1, sessions: 1 })
      }))

    it("decides reservations against the counts it holds", () =>
      withStore(async (store) => {
        await reserve(store, "warming", 3)
        const seen: Array<SlotCounts> = []
        const got = await run(store.reserve({
          state: "starting",
          sessionId: "s",
          howMany: (counts) => (seen.push(counts), 10 - counts.warming),
          newName: names(),
          checkDueAt: 0
        }))
        expect(seen[0]).toMatchObject({ warming: 3 })
        expect(got).toHaveLength(7)
        await expectCountsConsistent(store)
      }))

    it("binds a started slot to its session, once", () =>
      withStore(async (store) => {
        const [a] = await reserve(store, "starting", 1, "s")
        expect(await run(store.bind(a!, "s", terms(99)))).toBe(true)
        expect(await run(store.bind(a!, "s", terms(99)))).toBe(false)
        expect(await run(store.lease("s"))).toMatchObject({ container: a, expiresAt: 99 })
        expect(await run(store.renewLease("s", a!, terms(200)))).toBe(true)
        expect(await run(store.renewLease("s", "another", terms(900)))).toBe(false)
        expect(await run(store.renewLease("nobody", a!, terms(900)))).toBe(false)
        expect((await run(store.lease("s")))?.expiresAt).toBe(200)
        await expectCountsConsistent(store)
      }))

    it("releases to warm or to stopping as the decision says, and ignores unknown ids", () =>
      withStore(async (store) => {
        const [a, b] = await reserve(store, "starting", 2, null)
        await run(store.bind(a!, "s1", terms(10)))
        await run(store.bind(b!, "s2", terms(10)))
        expect(await run(store.release("nobody", () => "warm", 0))).toBeUndefined()
        expect(await run(store.release("s1", () => "warm", 5))).toEqual({ container: a, outcome: "warm" })
        expect(await run(store.release("s2", () => "stopped", 5))).toEqual({ container: b, outcome: "stopped" })
        expect(await run(store.counts)).toMatchObject({ warm: 1, stopping: 1, acquired: 0, sessions: 0 })
        expect(await run(store.lease("s1"))).toBeUndefined()
        await run(store.remove(b!))
        expect(await run(store.slot(b!))).toBeUndefined()
        await expectCountsConsistent(store)
      }))

    it("passes the lease and the counts to the release decision", () =>
      withStore(async (store) => {
        const [a] = await reserve(store, "starting", 1)
        await run(store.bind(a!, "s", terms(42)))
        let seen: unknown
        await run(store.release("s", (counts, lease) => ((seen = { counts, lease }), "stopped"), 0))
        expect(seen).toMatchObject({ counts: { acquired: 1 }, lease: { sessionId: "s", container: a, expiresAt: 42 } })
      }))

    it("expires leases by deadline, in pages", () =>
      withStore(async (store) => {
        const started = await reserve(store, "starting", 3)
        for (const [i, name] of started.entries()) await run(store.bind(name, `s${i}`, terms(100 + i)))
        expect(await run(store.expireLeases(99, 10))).toEqual([])
        expect(await run(store.expireLeases(101, 1))).toEqual([started[0]])
        expect(await run(store.expireLeases(200, 10))).toEqual([started[1], started[2]])
        expect(await run(store.counts)).toMatchObject({ stopping: 3, acquired: 0, sessions: 0 })
        await expectCountsConsistent(store)
      }))

    it("records the sticky cache granted on a lease, and never lowers it", () =>
      withStore(async (store) => {
        const [a, b] = await reserve(store, "starting", 2)
        await run(store.bind(a!, "s", terms(100, 100)))
        await run(store.renewLease("s", a!, terms(300, 0)))
        expect(await run(store.lease("s"))).toMatchObject({ expiresAt: 300, cachedUntil: 100 })
        await run(store.renewLease("s", a!, terms(400, 400)))
        expect(await run(store.lease("s"))).toMatchObject({ expiresAt: 400, cachedUntil: 400 })
        await run(store.promote(b!, 0))
        expect(await run(store.assignWarm("t", terms(50, 50)))).toBe(b)
        let seen: unknown
        await run(store.release("t", (_counts, lease) => ((seen = lease.cachedUntil), "stopped"), 0))
        expect(seen).toBe(50)
      }))

    it("lists due health checks oldest first, warm and acquired only", () =>
      withStore(async (store) => {
        const [a, b, c] = await reserve(store, "warming", 3)
        await run(store.promote(a!, 300))
        await run(store.promote(b!, 100))
        expect((await run(store.dueForCheck(1_000, 10))).map((s) => s.container)).toEqual([b, a])
        expect((await run(store.dueForCheck(200, 10))).map((s) => s.container)).toEqual([b])
        await run(store.scheduleCheck(b!, 5_000))
        expect((await run(store.dueForCheck(1_000, 10))).map((s) => s.container)).toEqual([a])
        expect((await run(store.inState("warming", 10))).map((s) => s.container)).toEqual([c])
      }))

    it("stops everything at once", () =>
      withStore(async (store) => {
        const [a, b] = await reserve(store, "starting", 2)
        await run(store.bind(a!, "s", terms(10)))
        const all = await run(store.markAllStopping)
        expect([...all].sort()).toEqual([a, b].sort())
        expect(await run(store.counts)).toMatchObject({ stopping: 2, starting: 0, acquired: 0, sessions: 0 })
        expect(await run(store.lease("s"))).toBeUndefined()
        await expectCountsConsistent(store)
      }))

    it("marks one slot stopping and ends its lease", () =>
      withStore(async (store) => {
        const [a] = await reserve(store, "starting", 1)
        await run(store.bind(a!, "s", terms(10)))
        expect(await run(store.markStopping(a!))).toMatchObject({ container: a, state: "acquired", sessionId: "s" })
        expect(await run(store.lease("s"))).toBeUndefined()
        expect(await run(store.markStopping("missing"))).toBeUndefined()
        await expectCountsConsistent(store)
      }))

    it("finds a tracked container by its Durable Object id", () =>
      withStore(async (store) => {
        const [a] = await run(store.reserve({
          state: "warming",
          sessionId: null,
          howMany: () => 1,
          newName: names(),
          objectIdOf: (container) => `object-of-${container}`,
          checkDueAt: 0
        }))
        expect(await run(store.containerByObjectId(`object-of-${a}`))).toBe(a)
        expect(await run(store.containerByObjectId("object-of-nothing"))).toBeUndefined()
        await run(store.remove(a!))
        expect(await run(store.containerByObjectId(`object-of-${a}`))).toBeUndefined()
      }))

    it("keeps config and start failures", () =>
      withStore(async (store) => {
        expect(await run(store.loadConfig)).toBeUndefined()
        await run(store.saveConfig("{\"a\":1}"))
        expect(await run(store.loadConfig)).toBe("{\"a\":1}")
        await run(store.recordStartFailure)
        await run(store.recordStartFailure)
        expect(await run(store.startFailures)).toBe(2)
      }))

    it("stores ids with SQL metacharacters and unicode as data", () =>
      withStore(async (store) => {
        const ids = ["'; DELETE FROM wp_slots; --", "\" OR 1=1", "日本語🙂", "%_\\"]
        const started = await reserve(store, "starting", ids.length)
        for (const [i, id] of ids.entries()) expect(await run(store.bind(started[i]!, id, terms(10)))).toBe(true)
        for (const [i, id] of ids.entries()) expect((await run(store.lease(id)))?.container).toBe(started[i])
        expect(await run(store.counts)).toMatchObject({ acquired: ids.length, sessions: ids.length })
      }))
  })
}
