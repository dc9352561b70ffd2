/**
 * The interleaving test's plumbing: gates that make container and storage calls wait for the scheduler,
 * containers that stop answering, one reused database, and how a scoped acquire opens and closes.
 */
import type { FastCheck as fc } from "effect"
import { Effect, FiberRef } from "effect"
import type { WarmPoolConfig } from "../../../src/Config.js"
import type { Containers } from "../../../src/internal/ContainerDriver.js"
import type { StopReason } from "../../../src/internal/fence.js"
import { migrate } from "../../../src/internal/SqlitePoolStore.js"
import type { CountingScheduler } from "../PoolModel.js"
import type { PoolUnderTest } from "../PoolUnderTest.js"
import { makeSqlJsStorageSync, type SqlJsStorage } from "../SqlJsStorage.js"
import type { Action, HungCalls } from "./Scenario.js"

/** Who is waiting at a gate: shown in the scheduler's report of a failing schedule. */
export const currentCall = FiberRef.unsafeMake("pool")

export const describeAction = (action: Action) => {
  const { _tag, ...args } = action
  return `${_tag}(${Object.values(args).map((v) => JSON.stringify(v)).join(", ")})`
}

/** Waits until `s` lets this step go on. */
export const gateOf = (s: fc.Scheduler) => (label: string): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(currentCall), (call) => Effect.promise(() => s.schedule(Promise.resolve(), `${call}: ${label}`)))

export interface Hangs {
  /** Containers and which of their calls never answer from now on. */
  readonly calls: Map<string, HungCalls>
  /** How many of the next starts never answer. */
  nextStarts: number
}

/**
 * Every container call (the fence's revoke included) waits at a gate before it is sent and before its answer
 * is seen (a start, only the latter).
 */
export const scheduledContainers = (gate: (label: string) => Effect.Effect<void>, hangs: Hangs) =>
(c: Containers): Containers => {
  const hung = (container: string, op: HungCalls) => {
    const calls = hangs.calls.get(container)
    return calls === "all" || calls === op
  }
  const around = <A, E>(op: HungCalls, container: string, call: Effect.Effect<A, E>) =>
    gate(`${op} ${container}`).pipe(
      Effect.zipRight(Effect.suspend(() => hung(container, op) ? Effect.never : call)),
      Effect.zipLeft(gate(`${op} ${container} answered`))
    )
  return {
    start: (container, ports) =>
      Effect.suspend(() => {
        if (hangs.nextStarts > 0) {
          hangs.nextStarts--
          return Effect.never
        }
        return Effect.zipLeft(c.start(container, ports), gate(`start ${container} answered`))
      }),
    status: (container) => around("status", container, c.status(container)),
    keepAlive: (container) => around("keepAlive", container, c.keepAlive(container)),
    destroy: (container, reason) => around("destroy", container, c.destroy(container, reason)),
    ...(c.revoke === undefined ? {} : {
      revoke: (container: string, epoch: number, reason: StopReason) =>
        around("revoke", container, c.revoke!(container, epoch, reason))
    }),
    newName: c.newName
  }
}

/** One database for every schedule, emptied before each: creating one costs more than a whole schedule. */
let database: SqlJsStorage | undefined
export const emptyDatabase = (): SqlJsStorage => {
  const db = database ?? makeSqlJsStorageSync()
  if (database === undefined) migrate(db)
  database = db
  db.transactionSync(() => {
    db.sql.exec("DELETE FROM wp_slots")
    db.sql.exec("DELETE FROM wp_pool")
    db.sql.exec("INSERT INTO wp_pool (id) VALUES (1)")
  })
  return db
}

/** Lets every runnable fiber run until none is left: nothing queued on the scheduler for two turns running. */
export const quiesce = (scheduler: CountingScheduler) =>
  Effect.gen(function*() {
    for (let idle = 0; idle < 2;) {
      yield* Effect.yieldNow()
      idle = scheduler.queued === 0 ? idle + 1 : 0
    }
  })

/** A scoped acquire's calls, as `WarmPoolClient.acquire` makes them: hold, renew while open, release the hold. */
export const scoped = {
  open: (e: PoolUnderTest, id: string, holder: string, config: WarmPoolConfig) => e.hold(id, holder, config),
  renew: (e: PoolUnderTest, id: string, holder: string, config: WarmPoolConfig) => e.renewHold(id, holder, config),
  close: (e: PoolUnderTest, id: string, holder: string, config: WarmPoolConfig) => e.releaseHold(id, holder, config)
}
