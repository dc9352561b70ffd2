/**
 * The pool's config: one source of truth inside the pool. A call brings the caller's config;
 * it is decoded and saved only when it differs from the one held, and the alarm and shutdown
 * read the same settings as every other operation.
 */
import { Context, Effect, Layer, Option, Ref } from "effect"
import type { WarmPoolConfig } from "../Config.js"
import { decodeConfig } from "../Config.js"
import type { InvalidConfig, InvalidContainerBinding } from "../Errors.js"
import { PoolUnavailable } from "../Errors.js"
import type { Containers } from "./ContainerDriver.js"
import { ContainerDriver, withBounds } from "./ContainerDriver.js"
import type { StorageError } from "./errors.js"
import { PoolRecord } from "./PoolStore.js"

export interface Settings {
  /** The config of the call that last brought one. */
  readonly config: WarmPoolConfig
  /** The containers behind `config.containerBinding`, every call bounded in time, or why the binding does not resolve. */
  readonly containers: Effect.Effect<Containers, InvalidContainerBinding>
}

export interface PoolSettingsService {
  /** The settings, if the pool was ever configured (read from storage on first use). */
  readonly current: Effect.Effect<Option.Option<Settings>, StorageError>
  /** The settings, for operations that run only after a call configured the pool. */
  readonly get: Effect.Effect<Settings, PoolUnavailable | StorageError>
  /**
   * The containers behind a slot's recorded binding, every call bounded; `undefined` (a row from before
   * bindings were recorded) is the pool's current binding. Old bindings are resolved once and remembered.
   */
  readonly containersFor: (
    binding: string | undefined
  ) => Effect.Effect<Containers, InvalidContainerBinding | PoolUnavailable | StorageError>
  /** Adopts a caller's config (untrusted): decoded only when it differs, saved only when the pool's part changed. */
  readonly adopt: (raw: unknown) => Effect.Effect<Settings, InvalidConfig | InvalidContainerBinding | StorageError>
}

/**
 * What the pool itself uses, as stable text: saved, and compared to notice a change.
 * `stickyCacheSize`, `stickyCacheTtl` and `traceSessionIds` are each caller's own: isolates with different caches
 * must not make the pool rewrite its config on every call.
 */
export const poolPart = (config: WarmPoolConfig): string => {
  const { stickyCacheSize: _size, stickyCacheTtl: _ttl, traceSessionIds: _trace, ...pool } = config
  return JSON.stringify(pool)
}

/** Whether an untrusted value is exactly `config` (the client sends the full decoded config). */
export const isSameConfig = (raw: unknown, config: WarmPoolConfig): boolean => {
  if (typeof raw !== "object" || raw === null) return false
  const fields = Object.keys(config) as Array<keyof WarmPoolConfig>
  if (Object.keys(raw).length !== fields.length) return false
  const value = raw as Record<string, unknown>
  return fields.every((field) => {
    const held = config[field]
    if (!Array.isArray(held)) return value[field] === held
    const ports = value[field]
    return Array.isArray(ports) && ports.length === held.length && ports.every((port, i) => port === held[i])
  })
}

interface Held extends Settings {
  readonly key: string
}

export const make = Effect.gen(function*() {
  const record = yield* PoolRecord
  const driver = yield* ContainerDriver
  const settle = (config: WarmPoolConfig, key = poolPart(config)): Held => {
    const containers = Effect.runSync(Effect.either(Effect.map(driver.resolve(config.containerBinding), withBounds)))
    return { config, key, containers: containers._tag === "Right" ? Effect.succeed(containers.right) : Effect.fail(containers.left) }
  }
  // A saved config that no longer decodes (written by another version) counts as none.
  const saved = record.config.pipe(
    Effect.flatMap((json) =>
      json === undefined ? Effect.succeed(Option.none<Held>()) : Effect.try(() => JSON.parse(json) as unknown).pipe(
        Effect.flatMap(decodeConfig),
        Effect.map((config) => Option.some(settle(config, json))),
        Effect.orElseSucceed(() => Option.none<Held>())
      )
    )
  )
  // Read lazily, on first use: a storage error then fails that call, not the whole instance.
  const held = yield* Ref.make(Option.none<Option.Option<Held>>())
  const current = Effect.flatMap(Ref.get(held), Option.match({
    onSome: Effect.succeed,
    onNone: () => Effect.tap(saved, (value) => Ref.set(held, Option.some(value)))
  }))

  const adoptDecoded = (config: WarmPoolConfig) =>
    Effect.flatMap(current, (current) => {
      const key = poolPart(config)
      if (Option.isSome(current) && current.value.key === key) {
        // Only the caller's own cache settings differ: nothing to save or resolve again.
        const next = { ...current.value, config }
        return Effect.as(Ref.set(held, Option.some(Option.some(next))), next)
      }
      // A binding that does not resolve is refused before anything is saved.
      const next = settle(config, key)
      return next.containers.pipe(
        Effect.zipRight(record.saveConfig(key)),
        Effect.zipRight(Ref.set(held, Option.some(Option.some(next)))),
        Effect.as(next)
      )
    })

  const earlierBindings = new Map<string, Effect.Effect<Containers, InvalidContainerBinding>>()
  const resolveEarlier = (binding: string) => {
    let containers = earlierBindings.get(binding)
    if (containers === undefined) {
      const resolved = Effect.runSync(Effect.either(Effect.map(driver.resolve(binding), withBounds)))
      containers = resolved._tag === "Right" ? Effect.succeed(resolved.right) : Effect.fail(resolved.left)
      earlierBindings.set(binding, containers)
    }
    return containers
  }
  const get = Effect.flatMap(current, Option.match({
    onNone: () => Effect.fail(new PoolUnavailable({ reason: "the pool has no config yet: no call has configured it" })),
    onSome: Effect.succeed
  }))

  return PoolSettings.of({
    current,
    get,
    containersFor: (binding) =>
      Effect.flatMap(get, (held) =>
        binding === undefined || binding === held.config.containerBinding ? held.containers : resolveEarlier(binding)),
    adopt: (raw) =>
      Effect.flatMap(current, (held) =>
        Option.isSome(held) && isSameConfig(raw, held.value.config)
          ? Effect.succeed(held.value)
          : Effect.flatMap(decodeConfig(raw), adoptDecoded))
  })
})

export class PoolSettings extends Context.Tag("cf-container-warm-pool/PoolSettings")<
  PoolSettings,
  PoolSettingsService
>() {
  static readonly make = make
  static readonly layer: Layer.Layer<PoolSettings, StorageError, PoolRecord | ContainerDriver> = Layer.effect(
    PoolSettings,
    make
  )
}
