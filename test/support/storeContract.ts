/**
 * One contract for the SQLite store, run on workerd's SQLite (workers project) and on sql.js
 * (unit project), so the Node shim the unit tests rely on keeps the semantics of production.
 */
import type { Effect } from "effect"
import { Effect as E } from "effect"
import { describe, expect, it } from "vitest"
import type { SlotCounts } from "../../src/internal/policy.js"
import { emptyCounts } from "../../src/internal/policy.js"
import type { NewSlot, PoolRecordService, PoolStoreService } from "../../src/internal/PoolStore.js"

let serial = 0
const run = <A, Err>(effect: Effect.Effect<A, Err>) => E.runPromise(effect)
const terms = (expiresAt: number, cachedUntil = 0, sliding = true) => ({ expiresAt, cachedUntil, sliding })

/** Counts recomputed from the rows, to check the maintained ones. */
export const recount = (store: PoolStoreService): Effect.Effect<SlotCounts, unknown> =>
  E.map(store.snapshot, ({ slots }) => {
    const counts: Record<string, number> = { ...emptyCounts }
    for (const slot of slots) counts[slot.state]!++
    return counts as unknown as SlotCounts
  })

export interface StoreUnderTest {
  readonly store: PoolStoreService
  readonly record: PoolRecordService
}

/** `withStore` runs a test body against a fresh store, inside whatever context the store needs. */
export const storeContract = (
  label: string,
  withStore: (body: (subject: StoreUnderTest) => Promise<void>) => Promise<void>
) => {
  describe(`PoolStore contract: ${label}`, () => {
    const reserve = async (store: PoolStoreService, state: NewSlot["state"], n: number, sessionId: string | null = null) => {
      const slots = Array.from({ length: n }, () => {
        const container = `c-${++serial}`
        return { container, state, sessionId }
      })
      await run(store.reserve(slots))
      return slots.map((slot) => slot.container)
    }
    /** Cold starts: one `starting` slot per session, bound. */
    const leased = async (store: PoolStoreService, sessions: ReadonlyArray<string>, expiresAt = 10) => {
      const names: Array<string> = []
      for (const id of sessions) {
        const [name] = await reserve(store, "starting", 1, id)
        expect(await run(store.bind(name!, terms(expiresAt), 0))).toBe(true)
        names.push(name!)
      }
      return names
    }
    const expectCountsConsistent = async (store: PoolStoreService) => {
      expect(await run(store.counts)).toEqual(await run(recount(store)))
    }

    it("reserves, promotes and assigns warm slots, keeping counts", () =>
      withStore(async ({ store }) => {
        const [a, b] = await reserve(store, "warming", 2)
        expect(await run(store.counts)).toMatchObject({ warming: 2, warm: 0 })
        expect(await run(store.promote(a!, 100))).toBe(true)
        expect(await run(store.promote(a!, 100))).toBe(false)
        expect(await run(store.counts)).toMatchObject({ warming: 1, warm: 1 })
        expect(await run(store.assignWarm("s1", terms(500)))).toBe(a)
        expect(await run(store.assignWarm("s2", terms(500)))).toBeUndefined()
        expect(await run(store.lease("s1"))).toEqual({
          sessionId: "s1",
          container: a,
          expiresAt: 500,
          cachedUntil: 0,
          sliding: true,
          fence: 1
        })
        expect(await run(store.counts)).toMatchObject({ warming: 1, warm: 0, acquired: 1 })
        expect(b).toBeDefined()
        await expectCountsConsistent(store)
      }))

    it("bumps a slot's lease epoch as each lease starts and as a released one returns to the warm set", () =>
      withStore(async ({ store }) => {
        const [cold] = await leased(store, ["cold"])
        expect((await run(store.lease("cold")))?.fence, "a bound cold start is the first lease").toBe(1)
        expect(await run(store.renewLease("cold", cold!, terms(50)))).toBe(true)
        expect((await run(store.lease("cold")))?.fence, "a renewal keeps the lease's epoch").toBe(1)
        expect(await run(store.recycle(cold!)), "its end, the epoch it returns at").toBe(2)
        expect(await run(store.rejoinWarm(cold!, 2, 0))).toBe(true)
        expect(await run(store.assignWarm("next", terms(50)))).toBe(cold)
        expect((await run(store.lease("next")))?.fence, "released at 2, leased again at 3").toBe(3)
      }))

    it("does not assign a second container to a session that holds one", () =>
      withStore(async ({ store }) => {
        const [a, b] = await reserve(store, "warming", 2)
        await run(store.promote(a!, 0))
        await run(store.promote(b!, 0))
        expect(await run(store.assignWarm("s", terms(1)))).toBeDefined()
        expect(await run(store.assignWarm("s", terms(1)))).toBeUndefined()
        expect(await run(store.counts)).toMatchObject({ warm: 1, acquired: 1 })
      }))

    it("binds a started slot to its session, once, and slides only that lease", () =>
      withStore(async ({ store }) => {
        const [a] = await reserve(store, "starting", 1, "s")
        expect(await run(store.bind(a!, terms(99), 50))).toBe(true)
        expect(await run(store.bind(a!, terms(99), 50))).toBe(false)
        expect(await run(store.lease("s"))).toMatchObject({ container: a, expiresAt: 99 })
        expect(await run(store.slot(a!))).toMatchObject({ state: "acquired", sessionId: "s", checkDueAt: 50 })
        expect(await run(store.renewLease("s", a!, terms(200)))).toBe(true)
        expect(await run(store.renewLease("s", "another", terms(900)))).toBe(false)
        expect(await run(store.renewLease("nobody", a!, terms(900)))).toBe(false)
        expect((await run(store.lease("s")))?.expiresAt).toBe(200)
        await expectCountsConsistent(store)
      }))

    it("does not bind a cold start for a session that got another container meanwhile", () =>
      withStore(async ({ store }) => {
        const [cold] = await reserve(store, "starting", 1, "s")
        const [warm] = await reserve(store, "warming", 1)
        await run(store.promote(warm!, 0))
        expect(await run(store.assignWarm("s", terms(10)))).toBe(warm)
        expect(await run(store.bind(cold!, terms(10), 0))).toBe(false)
        expect((await run(store.lease("s")))?.container).toBe(warm)
      }))

    it("returns a leased slot to the warm set, or stops it, ending its lease", () =>
      withStore(async ({ store }) => {
        const [a, b] = await leased(store, ["s1", "s2"])
        const epoch = await run(store.recycle(a!))
        expect(epoch).toBe(2)
        expect(await run(store.recycle(a!)), "its lease already ended").toBeUndefined()
        expect(await run(store.rejoinWarm(a!, epoch!, 5))).toBe(true)
        expect(await run(store.rejoinWarm(a!, epoch!, 5))).toBe(false)
        expect(await run(store.markStopping(b!))).toMatchObject({ container: b, state: "acquired", sessionId: "s2" })
        expect(await run(store.counts)).toMatchObject({ warm: 1, stopping: 1, acquired: 0 })
        expect(await run(store.lease("s1"))).toBeUndefined()
        expect(await run(store.lease("s2"))).toBeUndefined()
        expect(await run(store.slot(a!))).toMatchObject({ state: "warm", sessionId: null, checkDueAt: 5 })
        expect(await run(store.markStopping("missing"))).toBeUndefined()
        await run(store.remove(b!))
        expect(await run(store.slot(b!))).toBeUndefined()
        await expectCountsConsistent(store)
      }))

    it("a recycled lease ends in the step that decides it; its slot serves no one until it rejoins the warm set", () =>
      withStore(async ({ record, store }) => {
        const [a, b] = await leased(store, ["s", "other"], 100)
        await run(store.addHolder("s", a!, "h", 100))
        const startsBefore = (await run(record.metrics)).starts.succeeded
        const epoch = await run(store.recycle(a!))
        expect(epoch).toBe(2)
        // Ended: no lookup, renewal, hold or expiry finds it, and no assignment takes its slot.
        expect(await run(store.lease("s"))).toBeUndefined()
        expect(await run(store.renewLease("s", a!, terms(500)))).toBe(false)
        expect(await run(store.addHolder("s", a!, "h2", 500))).toBe(false)
        expect(await run(store.extendHolder("s", "h", 500))).toBe(false)
        expect(await run(store.liveHolders(a!, 0)), "its holders went with it").toBe(0)
        expect(await run(store.expireLease(a!, 1_000))).toBe(false)
        expect(await run(store.assignWarm("t", terms(500)))).toBeUndefined()
        expect(await run(store.dueForCheck(1_000, 10)), "no health check of a returning slot").toHaveLength(1)
        // Counted toward the warm set (warming), held (total), leased to no one.
        expect(await run(store.counts)).toMatchObject({ warming: 1, warm: 0, acquired: 1 })
        expect(await run(store.slot(a!))).toMatchObject({ state: "warming", sessionId: null, returningAt: 2 })
        expect(await run(store.inState("warming", 10))).toMatchObject([{ container: a, returningAt: 2 }])
        // Only at its epoch: a stale return changes nothing.
        expect(await run(store.rejoinWarm(a!, 1, 50))).toBe(false)
        expect(await run(store.stopReturning(a!, 1))).toBe(false)
        expect(await run(store.rejoinWarm(a!, epoch!, 50))).toBe(true)
        expect(await run(store.stopReturning(a!, epoch!)), "it rejoined: no longer returning").toBe(false)
        expect(await run(store.slot(a!))).toMatchObject({ state: "warm", checkDueAt: 50 })
        expect(await run(store.slot(a!))).not.toHaveProperty("returningAt")
        expect((await run(record.metrics)).starts.succeeded, "a return is no start").toBe(startsBefore)
        expect(await run(store.assignWarm("t", terms(500)))).toBe(a)
        expect((await run(store.lease("t")))?.fence).toBe(3)
        // A container that did not revoke: its returning slot goes stopping instead; a shutdown takes it too.
        const again = await run(store.recycle(b!))
        expect(await run(store.stopReturning(b!, again!))).toBe(true)
        expect(await run(store.rejoinWarm(b!, again!, 0))).toBe(false)
        expect(await run(store.slot(b!))).toMatchObject({ state: "stopping" })
        await run(store.recycle(a!))
        await run(store.markAllStopping)
        expect(await run(store.counts)).toMatchObject({ warming: 0, warm: 0, acquired: 0, stopping: 2 })
        await expectCountsConsistent(store)
      }))

    it("expires a lease only once its deadline passed, and only while it is still leased", () =>
      withStore(async ({ store }) => {
        const [a, b] = await leased(store, ["s0", "s1"], 100)
        expect(await run(store.expireLease(a!, 99))).toBe(false)
        expect(await run(store.expireLease(a!, 100))).toBe(true)
        expect(await run(store.expireLease(a!, 200))).toBe(false)
        expect(await run(store.slot(a!))).toMatchObject({ state: "stopping", sessionId: null, checkDueAt: null })
        await run(store.renewLease("s1", b!, terms(300)))
        expect(await run(store.expireLease(b!, 200))).toBe(false)
        expect(await run(store.counts)).toMatchObject({ stopping: 1, acquired: 1 })
        await expectCountsConsistent(store)
      }))

    it("never schedules an acquired slot's check after its lease's deadline", () =>
      withStore(async ({ store }) => {
        const [cold] = await reserve(store, "starting", 1, "s")
        await run(store.bind(cold!, terms(50), 1_000))
        expect(await run(store.slot(cold!))).toMatchObject({ expiresAt: 50, checkDueAt: 50 })
        await run(store.renewLease("s", cold!, terms(80)))
        expect(await run(store.slot(cold!))).toMatchObject({ expiresAt: 80, checkDueAt: 50 })
        await run(store.scheduleCheck(cold!, 1_000))
        expect(await run(store.slot(cold!))).toMatchObject({ checkDueAt: 80 })
        await run(store.renewLease("s", cold!, terms(20)))
        expect(await run(store.slot(cold!))).toMatchObject({ expiresAt: 20, checkDueAt: 20 })
        const [warm] = await reserve(store, "warming", 1)
        await run(store.promote(warm!, 500))
        expect(await run(store.assignWarm("t", terms(400)))).toBe(warm)
        expect(await run(store.slot(warm!))).toMatchObject({ expiresAt: 400, checkDueAt: 400 })
        const due = await run(store.dueForCheck(400, 10))
        expect(due.map((slot) => slot.container)).toEqual([cold, warm])
      }))

    it("records the sticky cache granted on a lease, and never lowers it", () =>
      withStore(async ({ store }) => {
        const [a] = await reserve(store, "starting", 1, "s")
        await run(store.bind(a!, terms(100, 100), 0))
        await run(store.renewLease("s", a!, terms(300, 0)))
        expect(await run(store.lease("s"))).toMatchObject({ expiresAt: 300, cachedUntil: 100 })
        await run(store.renewLease("s", a!, terms(400, 400)))
        expect(await run(store.lease("s"))).toMatchObject({ expiresAt: 400, cachedUntil: 400 })
      }))

    it("lists due health checks oldest first, warm and acquired only", () =>
      withStore(async ({ store }) => {
        const [a, b, c] = await reserve(store, "warming", 3)
        await run(store.promote(a!, 300))
        await run(store.promote(b!, 100))
        expect((await run(store.dueForCheck(1_000, 10))).map((s) => s.container)).toEqual([b, a])
        expect((await run(store.dueForCheck(200, 10))).map((s) => s.container)).toEqual([b])
        await run(store.scheduleCheck(b!, 5_000))
        expect((await run(store.dueForCheck(1_000, 10))).map((s) => s.container)).toEqual([a])
        expect((await run(store.inState("warming", 10))).map((s) => s.container)).toEqual([c])
        await run(store.markStopping(a!))
        await run(store.scheduleCheck(a!, 0))
        expect((await run(store.dueForCheck(1_000, 10))).map((s) => s.container)).toEqual([])
      }))

    it("stops everything at once", () =>
      withStore(async ({ store }) => {
        const [a] = await leased(store, ["s"])
        const [b] = await reserve(store, "warming", 1)
        const all = await run(store.markAllStopping)
        expect([...all].sort()).toEqual([a, b].sort())
        expect(await run(store.counts)).toMatchObject({ stopping: 2, warming: 0, acquired: 0 })
        expect(await run(store.lease("s"))).toBeUndefined()
        await expectCountsConsistent(store)
      }))

    it("finds a tracked container by its name, and forgets it once removed", () =>
      withStore(async ({ store }) => {
        const [a] = await reserve(store, "warming", 1)
        expect(await run(store.slot(a!))).toEqual({
          container: a,
          state: "warming",
          sessionId: null,
          expiresAt: null,
          checkDueAt: null,
          createdAt: expect.any(Number)
        })
        expect(await run(store.slot("nothing"))).toBeUndefined()
        await run(store.remove(a!))
        expect(await run(store.slot(a!))).toBeUndefined()
      }))

    it("counts a lease's live holders, and raises the lease's deadline to a holder's", () =>
      withStore(async ({ store }) => {
        const [a, b] = await leased(store, ["s", "t"], 10)
        expect(await run(store.addHolder("s", a!, "h1", 100))).toBe(true)
        expect(await run(store.addHolder("s", b!, "h1", 100)), "another session's container").toBe(false)
        expect(await run(store.addHolder("nobody", a!, "h1", 100))).toBe(false)
        expect(await run(store.addHolder("s", a!, "h2", 50))).toBe(true)
        expect((await run(store.lease("s")))?.expiresAt).toBe(100)
        expect(await run(store.liveHolders(a!, 0))).toBe(2)
        expect(await run(store.liveHolders(a!, 50)), "h2 lapsed at its deadline").toBe(1)
        expect(await run(store.liveHolders(b!, 0))).toBe(0)
        const removed = await run(store.removeHolder("s", "h1", 60))
        expect(removed).toMatchObject({ lease: { sessionId: "s", container: a }, liveHoldersLeft: 0 })
        expect(await run(store.removeHolder("s", "h1", 60)), "removed once").toBeUndefined()
        expect(await run(store.removeHolder("t", "h2", 0)), "h2 holds s, not t").toBeUndefined()
        expect(await run(store.removeHolder("s", "h2", 0))).toMatchObject({ liveHoldersLeft: 0 })
        await expectCountsConsistent(store)
      }))

    it("extends a holder of the session's current lease, and the lease with it", () =>
      withStore(async ({ store }) => {
        const [a] = await leased(store, ["s", "t"], 10)
        await run(store.addHolder("s", a!, "h", 100))
        expect(await run(store.extendHolder("s", "h", 300))).toBe(true)
        expect((await run(store.lease("s")))?.expiresAt).toBe(300)
        expect(await run(store.liveHolders(a!, 299))).toBe(1)
        expect(await run(store.extendHolder("s", "h", 200)), "never shortened").toBe(true)
        expect(await run(store.liveHolders(a!, 299))).toBe(1)
        expect(await run(store.extendHolder("s", "other", 900))).toBe(false)
        expect(await run(store.extendHolder("t", "h", 900)), "h holds s's lease, not t's").toBe(false)
        expect(await run(store.extendHolder("nobody", "h", 900))).toBe(false)
        expect((await run(store.lease("t")))?.expiresAt).toBe(10)
      }))

    it("holders go with their lease, whatever ends it, and never carry over to the next lease", () =>
      withStore(async ({ store }) => {
        const [a, b, c, d] = await leased(store, ["s1", "s2", "s3", "s4"], 10)
        for (const [id, container] of [["s1", a], ["s2", b], ["s3", c], ["s4", d]] as const) {
          expect(await run(store.addHolder(id, container!, "h", 20))).toBe(true)
        }
        await run(store.recycle(a!))
        await run(store.markStopping(b!))
        expect(await run(store.expireLease(c!, 20))).toBe(true)
        for (const container of [a, b, c]) expect(await run(store.liveHolders(container!, 0))).toBe(0)
        expect(await run(store.liveHolders(d!, 0))).toBe(1)
        await run(store.markAllStopping)
        expect(await run(store.liveHolders(d!, 0))).toBe(0)
        const [e] = await reserve(store, "warming", 1)
        await run(store.promote(e!, 0))
        expect(await run(store.assignWarm("s5", terms(50)))).toBe(e)
        expect(await run(store.addHolder("s5", e!, "h", 50))).toBe(true)
        await run(store.remove(e!))
        expect(await run(store.liveHolders(e!, 0))).toBe(0)
      }))

    it("a renewal never lowers a lease below a holder's deadline; plain use marks it sliding until it ends", () =>
      withStore(async ({ store }) => {
        const [a] = await reserve(store, "starting", 1, "s")
        await run(store.bind(a!, terms(10, 0, false), 0))
        expect(await run(store.lease("s"))).toMatchObject({ expiresAt: 10, sliding: false })
        await run(store.addHolder("s", a!, "h", 500))
        await run(store.renewLease("s", a!, terms(100, 0, false)))
        expect(await run(store.lease("s"))).toMatchObject({ expiresAt: 500, sliding: false })
        await run(store.renewLease("s", a!, terms(100)))
        expect(await run(store.lease("s"))).toMatchObject({ expiresAt: 500, sliding: true })
        await run(store.renewLease("s", a!, terms(600, 0, false)))
        expect(await run(store.lease("s"))).toMatchObject({ expiresAt: 600, sliding: true })
        await run(store.rejoinWarm(a!, (await run(store.recycle(a!)))!, 0))
        expect(await run(store.assignWarm("t", terms(700, 0, false)))).toBe(a)
        expect(await run(store.lease("t"))).toMatchObject({ expiresAt: 700, sliding: false })
      }))

    it("counts slots of older revisions, recounted on a change and lowered as they go; stops only warm ones", () =>
      withStore(async ({ store }) => {
        await run(store.reserve([
          { container: "r1", state: "warming", sessionId: null, revision: "v1" },
          { container: "r2", state: "warming", sessionId: null, revision: "v1" },
          { container: "r3", state: "warming", sessionId: null }
        ]))
        expect(await run(store.noticeRevision("v1"))).toBe(true)
        expect(await run(store.olderRevisions)).toBe(1)
        expect(await run(store.noticeRevision("v1"))).toBe(false)
        expect(await run(store.noticeRevision("v2"))).toBe(true)
        expect(await run(store.olderRevisions)).toBe(3)
        await run(store.promote("r1", 0))
        expect((await run(store.warmToRecycle("v2", -1, 10))).map((slot) => slot.container)).toEqual(["r1"])
        expect(await run(store.stopIfWarm("r2"))).toBe(false)
        expect(await run(store.stopIfWarm("r1"))).toBe(true)
        expect((await run(store.slot("r1")))?.state).toBe("stopping")
        await run(store.remove("r1"))
        expect(await run(store.olderRevisions)).toBe(2)
        await expectCountsConsistent(store)
      }))

    it("keeps the config, the shut-down flag and start failures", () =>
      withStore(async ({ record }) => {
        expect(await run(record.config)).toBeUndefined()
        await run(record.saveConfig("{\"a\":1}"))
        expect(await run(record.config)).toBe("{\"a\":1}")
        expect(await run(record.shutDown)).toBe(false)
        await run(record.setShutDown(true))
        expect(await run(record.shutDown)).toBe(true)
        await run(record.recordStartFailure("other"))
        await run(record.recordStartFailure("other"))
        expect(await run(record.startFailures)).toBe(2)
      }))

    it("stores ids with SQL metacharacters and unicode as data", () =>
      withStore(async ({ store }) => {
        const ids = ["'; DELETE FROM wp_slots; --", "\" OR 1=1", "日本語🙂", "%_\\"]
        const started = await leased(store, ids)
        for (const [i, id] of ids.entries()) expect((await run(store.lease(id)))?.container).toBe(started[i])
        expect(await run(store.counts)).toMatchObject({ acquired: ids.length })
      }))
  })
}
