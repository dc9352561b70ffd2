/**
 * The world a pool lives in, for unit tests that restart the pool: one store, one
 * alarm and one set of fake containers that outlive any engine instance.
 *
 * `restart()` aborts the running instance the way a Durable Object reset does: it
 * gets no chance to clean up. Every store, alarm or container call it makes afterwards
 * never returns (nothing can catch that, unlike an interruption), while calls already
 * made keep going on the container side (a start already sent still finishes). A fresh
 * instance then boots over the same world.
 */
import { Effect, Layer, Scope } from "effect"
import { ContainerDriver, type Containers } from "../../src/internal/ContainerDriver.js"
import { StorageError } from "../../src/internal/errors.js"
import { memoryBackend, PoolAlarm, type PoolAlarmService } from "../../src/internal/PoolAlarm.js"
import { PoolRecord, type PoolRecordService, PoolStore, type PoolStoreService } from "../../src/internal/PoolStore.js"
import { migrate } from "../../src/internal/SqlitePoolStore.js"
import { fakeDriverService, makeFakeContainers } from "./FakeContainers.js"
import { buildPool, poolUnderTest, type PoolUnderTest } from "./PoolUnderTest.js"
import { makeSqlJsStorageSync, type SqlJsStorage } from "./SqlJsStorage.js"

export type Gate = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StorageError, R>

/** Wraps every effect (and every effect-returning function) of a service with `gate`, but those named in `except`. */
const gated = <S extends object>(service: S, gate: Gate, except: ReadonlyArray<string> = []): S =>
  Object.fromEntries(
    Object.entries(service).map(([key, value]) => [
      key,
      except.includes(key)
        ? value
        : Effect.isEffect(value)
        ? gate(value)
        : typeof value === "function"
        ? (...args: Array<unknown>) => gate((value as (...a: Array<unknown>) => Effect.Effect<unknown>)(...args))
        : value
    ])
  ) as S

/**
 * Hooks for tests that interleave: `containers` wraps the fake containers (under the restart gate, so a
 * call already sent still reaches its container); `storage` wraps each store and record call (over the
 * restart gate, so a call held there never reaches storage once its instance is gone).
 */
export interface WorldHooks {
  readonly containers?: (containers: Containers) => Containers
  readonly storageCalls?: Gate
  /** A database to reuse, its tables already created and empty; the world then leaves it open. */
  readonly database?: SqlJsStorage
}

export const makeWorld = (hooks: WorldHooks = {}) => {
  const fake = makeFakeContainers()
  const storage = hooks.database ?? makeSqlJsStorageSync()
  if (hooks.database === undefined) migrate(storage)
  const alarmBackend = memoryBackend()
  /** The next `storageErrors` store calls fail, as a failing SQLite statement would. */
  const faults = { storageErrors: 0 }
  let instance: { engine: PoolUnderTest; aborted: { value: boolean } } | undefined
  let restarts = 0

  const boot = Effect.gen(function*() {
    const aborted = { value: false }
    const alive: Gate = (effect) => Effect.suspend(() => (aborted.value ? Effect.never : effect))
    const faulty: Gate = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      alive(Effect.suspend((): Effect.Effect<A, E | StorageError, R> => {
        if (faults.storageErrors > 0) {
          faults.storageErrors--
          return Effect.fail(new StorageError({ operation: "injected", reason: "injected storage error" }))
        }
        return effect
      }))
    const outer: Gate = (effect) => hooks.storageCalls === undefined ? faulty(effect) : hooks.storageCalls(faulty(effect))
    const store = yield* PoolStore.make(storage)
    const driver = fakeDriverService(fake)
    const alarm = yield* PoolAlarm.make(alarmBackend)
    // The scope is never closed: an aborted instance runs no finalizers.
    const context = yield* buildPool(Layer.mergeAll(
      Layer.succeed(PoolStore, gated<PoolStoreService>(store, outer, ["exclusive"])),
      Layer.succeed(PoolRecord, gated<PoolRecordService>(PoolRecord.make(storage), outer)),
      Layer.succeed(ContainerDriver, {
        resolve: (binding) =>
          Effect.map(
            driver.resolve(binding),
            (c) => gated<Containers>(hooks.containers === undefined ? c : hooks.containers(c), alive, ["newName"])
          )
      }),
      Layer.succeed(PoolAlarm, gated<PoolAlarmService>(alarm, alive))
    )).pipe(Effect.provideService(Scope.Scope, yield* Scope.make()))
    instance = { engine: poolUnderTest(context), aborted }
  })

  return {
    fake,
    storage,
    /** The store as the test sees it: not gated, never aborted. */
    store: Effect.runSync(PoolStore.make(storage)),
    /** The alarm as the runtime keeps it. */
    alarm: {
      get: Effect.sync(() => alarmBackend.get() as number | null),
      set: (at: number) => Effect.sync(() => void alarmBackend.set(at)),
      clear: Effect.sync(() => void alarmBackend.clear())
    },
    faults,
    boot,
    get engine(): PoolUnderTest {
      return instance!.engine
    },
    get restarts() {
      return restarts
    },
    /** Aborts the running instance for good, as when the world is thrown away. */
    abort: Effect.sync(() => {
      if (instance !== undefined) instance.aborted.value = true
    }),
    /** Aborts the running instance and boots a new one over the same store, alarm and containers. */
    restart: Effect.suspend(() => {
      instance!.aborted.value = true
      restarts++
      return boot
    })
  }
}

export type World = ReturnType<typeof makeWorld>
