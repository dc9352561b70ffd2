/**
 * An in-memory container driver for unit tests. Starts take `startDelay` on the
 * (test) clock, can be told to fail or hang, and containers can be killed.
 */
import { Context, Duration, Effect, Layer } from "effect"
import type { WarmPoolConfig } from "../../src/Config.js"
import { defaults } from "../../src/Config.js"
import { InvalidContainerBinding } from "../../src/Errors.js"
import { ContainerDriver, type ContainerDriverService, type Containers } from "../../src/internal/ContainerDriver.js"
import { ContainerCallFailed } from "../../src/internal/errors.js"
import type { FenceRecord, StopReason, Verdict } from "../../src/internal/fence.js"
import * as Fence from "../../src/internal/fence.js"
import { memoryBackend, PoolAlarm } from "../../src/internal/PoolAlarm.js"
import { PoolStore } from "../../src/internal/PoolStore.js"
import { buildPool, poolUnderTest } from "./PoolUnderTest.js"
import { makeSqlJsStorageSync } from "./SqlJsStorage.js"

export type FakeStatus = "healthy" | "stopped" | "stopped_with_code"

export interface FakeContainers {
  readonly containers: Containers
  /** Status of every container ever started (or asked about). */
  readonly status: Map<string, FakeStatus>
  readonly behaviour: {
    startDelay: Duration.Duration
    /** How many of the next start attempts fail, and with what reason. */
    failNextStarts: number
    startFailureReason: string
    /** Start attempts never finish. */
    hangStarts: boolean
    /** `getState()` fails. */
    statusFails: boolean
    /** How long `getState()` takes to answer (on the test clock). */
    statusDelay: Duration.Duration
    /** `destroy()` fails (the container keeps running). */
    destroyFails: boolean
    /** `destroy()` never answers (the container keeps running). */
    hangDestroys: boolean
    /** `renewActivityTimeout()` never answers. */
    hangKeepAlives: boolean
    /** `warmPoolRevoke()` fails. */
    revokeFails: boolean
    /** `warmPoolRevoke()` never answers. */
    hangRevokes: boolean
    /** How long `warmPoolRevoke()` takes to answer (on the test clock). */
    revokeDelay: Duration.Duration
  }
  readonly calls: { starts: number; destroys: number; keepAlives: number; statusChecks: number; revokes: number }
  /** Each container's fence, as a `PooledContainer` keeps it (see `fence.ts`). */
  readonly fences: Map<string, FenceRecord>
  /** The reason of each container's last destroy, if it was given one. */
  readonly stopReasons: Map<string, StopReason>
  /** A request with `token` reaching the container's fence: admitted (and remembered) or refused. */
  readonly request: (container: string, token: number | undefined) => Verdict
  /** Containers currently running. */
  readonly running: () => ReadonlyArray<string>
  readonly kill: (container: string) => void
}

/** `prefix` names its containers: fakes behind different bindings never share a name, as Durable Object ids do not. */
export const makeFakeContainers = (prefix = "container"): FakeContainers => {
  const status = new Map<string, FakeStatus>()
  const behaviour = {
    startDelay: Duration.zero,
    failNextStarts: 0,
    startFailureReason: "injected start failure",
    hangStarts: false,
    statusFails: false,
    statusDelay: Duration.zero,
    destroyFails: false,
    hangDestroys: false,
    hangKeepAlives: false,
    revokeFails: false,
    hangRevokes: false,
    revokeDelay: Duration.zero
  }
  const calls = { starts: 0, destroys: 0, keepAlives: 0, statusChecks: 0, revokes: 0 }
  const fences = new Map<string, FenceRecord>()
  const stopReasons = new Map<string, StopReason>()
  // Like a real container, destroy() also ends a start still under way: the start never reports ready.
  const destroyedAt = new Map<string, number>()
  let destroyCount = 0
  let named = 0
  const fail = (container: string, operation: string, reason: string) =>
    Effect.fail(new ContainerCallFailed({ container, operation, reason }))

  const containers: Containers = {
    start: (container) =>
      Effect.gen(function*() {
        calls.starts++
        if (behaviour.failNextStarts > 0) {
          behaviour.failNextStarts--
          return yield* fail(container, "start", behaviour.startFailureReason)
        }
        if (behaviour.hangStarts) return yield* Effect.never
        const began = destroyCount
        yield* Effect.sleep(behaviour.startDelay)
        if ((destroyedAt.get(container) ?? -1) >= began) {
          return yield* fail(container, "start", "destroyed while starting")
        }
        status.set(container, "healthy")
      }),
    status: (container) =>
      Effect.suspend(() => {
        calls.statusChecks++
        if (behaviour.statusFails) return fail(container, "getState", "injected status failure")
        const answer = Effect.sync(() => status.get(container) ?? "stopped")
        return Duration.isZero(behaviour.statusDelay) ? answer : Effect.delay(answer, behaviour.statusDelay)
      }),
    keepAlive: () =>
      Effect.suspend(() => {
        calls.keepAlives++
        return behaviour.hangKeepAlives ? Effect.never : Effect.void
      }),
    newName: () => `${prefix}-${++named}`,
    revoke: (container, epoch, reason) =>
      Effect.suspend(() => {
        calls.revokes++
        if (behaviour.revokeFails) return fail(container, "warmPoolRevoke", "injected revoke failure")
        if (behaviour.hangRevokes) return Effect.never
        const apply = Effect.sync(() => {
          const next = Fence.revoke(fences.get(container), epoch, reason)
          if (next !== undefined) fences.set(container, next)
          return "revoked" as const
        })
        return Duration.isZero(behaviour.revokeDelay) ? apply : Effect.delay(apply, behaviour.revokeDelay)
      }),
    destroy: (container, reason) =>
      Effect.suspend(() => {
        calls.destroys++
        if (reason !== undefined) {
          // Like PooledContainer: the fence closes first, whatever becomes of the destroy.
          stopReasons.set(container, reason)
          fences.set(container, Fence.stop(fences.get(container), reason))
        }
        if (behaviour.destroyFails) return fail(container, "destroy", "injected destroy failure")
        if (behaviour.hangDestroys) return Effect.never
        destroyedAt.set(container, destroyCount++)
        if (status.get(container) === "healthy") status.set(container, "stopped")
        return Effect.void
      })
  }
  return {
    containers,
    status,
    behaviour,
    calls,
    fences,
    stopReasons,
    request: (container, token) => {
      const verdict = Fence.admit(fences.get(container), token)
      if (verdict.admitted && verdict.record !== undefined) fences.set(container, verdict.record)
      return verdict
    },
    running: () => [...status].filter(([, s]) => s === "healthy").map(([name]) => name),
    kill: (container) => void status.set(container, "stopped_with_code")
  }
}

/** A driver that knows the binding `CONTAINER`, and any `others` given by binding name. */
export const fakeDriverService = (
  fake: FakeContainers,
  others: Readonly<Record<string, FakeContainers>> = {}
): ContainerDriverService => ({
  resolve: (binding) =>
    binding === "CONTAINER"
      ? Effect.succeed(fake.containers)
      : Object.hasOwn(others, binding)
      ? Effect.succeed(others[binding]!.containers)
      : Effect.fail(
        new InvalidContainerBinding({ binding, reason: "is not defined in the env of the Worker that hosts WarmPool" })
      )
})

export const fakeDriver = (fake: FakeContainers, others: Readonly<Record<string, FakeContainers>> = {}) =>
  Layer.succeed(ContainerDriver, fakeDriverService(fake, others))

export const config = (overrides: Partial<WarmPoolConfig> = {}): WarmPoolConfig => ({ ...defaults, ...overrides })

/** A slot as an earlier instance would have left it, mid-start. */
export const leftover = (container: string, state: "warming" | "starting" = "warming", sessionId: string | null = null) => ({
  container,
  state,
  sessionId
})

/** An engine over the real SQLite store (sql.js), a memory alarm and fake containers, with handles on each. */
export const makeHarness = Effect.gen(function*() {
  const fake = makeFakeContainers()
  /** The containers of a second binding, `OTHER_CONTAINER`, for a pool whose binding changes. */
  const otherFake = makeFakeContainers("other")
  const storage = makeSqlJsStorageSync()
  const alarmBackend = memoryBackend()
  yield* Effect.addFinalizer(() => Effect.sync(() => storage.close()))
  const boot = Effect.map(
    buildPool(
      Layer.mergeAll(PoolStore.layer(storage), fakeDriver(fake, { OTHER_CONTAINER: otherFake }), PoolAlarm.layer(alarmBackend))
    ),
    (context) => ({
      engine: poolUnderTest(context),
      store: Context.get(context, PoolStore),
      alarm: Context.get(context, PoolAlarm)
    })
  )
  const first = yield* boot
  return {
    ...first,
    fake,
    otherFake,
    storage,
    /** A new instance over the same storage, alarm and containers, as after a Durable Object restart. */
    reboot: Effect.map(boot, (next) => next.engine)
  }
})
