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
import { Context, Effect, Layer, Scope } from "effect"
import { ContainerDriver, type Containers } from "../../src/ContainerDriver.js"
import { makeMemoryAlarm, PoolAlarm, type PoolAlarmService } from "../../src/PoolAlarm.js"
import { makeMemoryStore, PoolStore, type PoolStoreService } from "../../src/PoolStore.js"
import { WarmPoolEngine, type WarmPoolEngineService } from "../../src/WarmPoolEngine.js"
import { fakeDriver, makeFakeContainers } from "./FakeContainers.js"

/** Wraps every effect (and every effect-returning function) of a service with `gate`. */
const gated = <S extends object>(service: S, gate: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>): S =>
  Object.fromEntries(
    Object.entries(service).map(([key, value]) => [
      key,
      Effect.isEffect(value)
        ? gate(value)
        : typeof value === "function"
        ? (...args: Array<unknown>) => gate((value as (...a: Array<unknown>) => Effect.Effect<unknown>)(...args))
        : value
    ])
  ) as S

export const makeWorld = () => {
  const fake = makeFakeContainers()
  const store = makeMemoryStore()
  const alarm = makeMemoryAlarm()
  /** The next `storageErrors` store calls throw, as a failing SQLite statement would. */
  const faults = { storageErrors: 0 }
  let instance: { engine: WarmPoolEngineService; aborted: { value: boolean } } | undefined
  let restarts = 0

  const boot = Effect.gen(function*() {
    const aborted = { value: false }
    const alive = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.suspend(() => (aborted.value ? Effect.never : effect))
    const faulty = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      alive(Effect.suspend(() => {
        if (faults.storageErrors > 0) {
          faults.storageErrors--
          return Effect.die(new Error("injected storage error"))
        }
        return effect
      }))
    const driver = Context.get(yield* Layer.build(fakeDriver(fake)), ContainerDriver)
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      WarmPoolEngine.layer.pipe(
        Layer.provide(Layer.mergeAll(
          Layer.succeed(PoolStore, gated<PoolStoreService>(store, faulty)),
          Layer.succeed(ContainerDriver, {
            resolve: (binding) =>
              alive(Effect.map(driver.resolve(binding), (containers) => gated<Containers>(containers, alive)))
          }),
          Layer.succeed(PoolAlarm, gated<PoolAlarmService>(alarm, alive))
        ))
      ),
      scope
    )
    // The scope is never closed: an aborted instance runs no finalizers.
    instance = { engine: Context.get(context, WarmPoolEngine), aborted }
  })

  return {
    fake,
    store,
    alarm,
    faults,
    boot,
    get engine(): WarmPoolEngineService {
      return instance!.engine
    },
    get restarts() {
      return restarts
    },
    /** Aborts the running instance and boots a new one over the same store, alarm and containers. */
    restart: Effect.suspend(() => {
      instance!.aborted.value = true
      restarts++
      return boot
    })
  }
}

export type World = ReturnType<typeof makeWorld>
