export * from "./Config.js"
export * from "./Errors.js"
export * from "./SessionId.js"
export * from "./Slot.js"
export { ContainerCallFailed, ContainerDriver, type ContainerDriverService, type Containers } from "./ContainerDriver.js"
export { PoolAlarm, type PoolAlarmService } from "./PoolAlarm.js"
export { PoolStore, type PoolStoreService } from "./PoolStore.js"
export { type TickReport, WarmPoolEngine, type WarmPoolEngineService } from "./WarmPoolEngine.js"
export { WarmPoolClient, type ContainerStub, type WarmPoolClientService } from "./WarmPoolClient.js"
export * as StickyCache from "./StickyCache.js"
export { createWarmPool, type WarmPoolHandle } from "./createWarmPool.js"
export { WarmPool } from "./WarmPool.js"
export {
  containerStoppedNotice,
  notifyContainerStopped,
  type NotifyContainerStoppedOptions,
  type StoppedContainer
} from "./notifyContainerStopped.js"
