/**
 * How the pool's services fit together. The Durable Object provides SQLite storage, its
 * alarm and its env; unit tests provide the same store over sql.js, a memory alarm and fakes.
 */
import { Layer } from "effect"
import { Assignment } from "./Assignment.js"
import { Autoscaler } from "./Autoscaler.js"
import { ContainerDriver } from "./ContainerDriver.js"
import { Engine } from "./Engine.js"
import { Fencing } from "./Fencing.js"
import { Holds } from "./Holds.js"
import { Lifecycle } from "./Lifecycle.js"
import { Maintenance } from "./Maintenance.js"
import { PoolAlarm, storageBackend } from "./PoolAlarm.js"
import { PoolSettings } from "./PoolSettings.js"
import { PoolStore } from "./PoolStore.js"
import { Recycling } from "./Recycling.js"
import { StartGovernor } from "./StartGovernor.js"
import { WarmSet } from "./WarmSet.js"

/** The engine and the tick (and the services they share), over a store, a record, a driver and an alarm. */
export const pool = Layer.mergeAll(Engine.layer, Maintenance.layer).pipe(
  Layer.provideMerge(Holds.layer),
  Layer.provideMerge(Assignment.layer),
  Layer.provideMerge(Fencing.layer),
  Layer.provideMerge(Layer.merge(WarmSet.layer, Recycling.layer)),
  Layer.provideMerge(Lifecycle.layer),
  Layer.provideMerge(Layer.mergeAll(PoolSettings.layer, Autoscaler.layer, StartGovernor.layer))
)

/** The pool of a Durable Object: its SQLite storage, its alarm, and the container bindings of its env. */
export const durableObject = (storage: DurableObjectStorage, env: object) =>
  pool.pipe(
    Layer.provide(
      Layer.mergeAll(PoolStore.layer(storage), ContainerDriver.layer(env), PoolAlarm.layer(storageBackend(storage)))
    )
  )
