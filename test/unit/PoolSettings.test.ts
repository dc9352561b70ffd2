/**
 * The pool's config has one source of truth: `PoolSettings`. A caller's config is decoded only when
 * it differs from the one held, saved only when the pool's own part changed, refused before anything
 * is saved, and read back lazily by a new instance over the same storage.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { InvalidConfig, InvalidContainerBinding, PoolUnavailable } from "../../src/Errors.js"
import { PoolRecord } from "../../src/internal/PoolStore.js"
import { PoolSettings, poolPart } from "../../src/internal/PoolSettings.js"
import { migrate } from "../../src/internal/SqlitePoolStore.js"
import { config, fakeDriver, makeFakeContainers } from "../support/FakeContainers.js"
import type { SqlJsStorage } from "../support/SqlJsStorage.js"
import { makeSqlJsStorageSync } from "../support/SqlJsStorage.js"

const freshStorage = Effect.acquireRelease(
  Effect.sync(() => {
    const storage = makeSqlJsStorageSync()
    migrate(storage)
    return storage
  }),
  (storage) => Effect.sync(() => storage.close())
)

/** One instance's settings over `storage`, with every `saveConfig` it makes recorded. */
const settingsOver = (storage: SqlJsStorage) =>
  Effect.gen(function*() {
    const record = PoolRecord.make(storage)
    const saves: Array<string> = []
    const counting = Layer.succeed(PoolRecord, {
      ...record,
      saveConfig: (json: string) => Effect.zipRight(Effect.sync(() => void saves.push(json)), record.saveConfig(json))
    })
    const context = yield* Layer.build(PoolSettings.layer.pipe(
      Layer.provide(Layer.merge(counting, fakeDriver(makeFakeContainers())))
    ))
    return { settings: Context.get(context, PoolSettings), saves, record }
  })

describe("PoolSettings", () => {
  it.scoped("adopting the same config again returns the held decoded config, and saves nothing more", () =>
    Effect.gen(function*() {
      const { record, saves, settings } = yield* settingsOver(yield* freshStorage)
      const raw = config({ minContainers: 2, ports: [8080, 9090] })
      const first = yield* settings.adopt(raw)
      expect(first.config).toEqual(raw)
      expect(first.config, "decoded into a config of its own").not.toBe(raw)
      expect(saves).toEqual([poolPart(raw)])

      // An equal copy, as another call (or another isolate) sends it.
      const second = yield* settings.adopt(structuredClone(raw))
      expect(second.config, "the held object: not decoded again").toBe(first.config)
      expect(saves).toHaveLength(1)
      expect(yield* record.config).toBe(poolPart(raw))
    }))

  it.scoped("a config differing only in its sticky cache settings is decoded but not saved", () =>
    Effect.gen(function*() {
      const { saves, settings } = yield* settingsOver(yield* freshStorage)
      const raw = config({ minContainers: 2 })
      const first = yield* settings.adopt(raw)
      const other = yield* settings.adopt({ ...raw, stickyCacheSize: 0, stickyCacheTtl: 5_000 })

      expect(other.config).not.toBe(first.config)
      expect(other.config).toMatchObject({ stickyCacheSize: 0, stickyCacheTtl: 5_000, minContainers: 2 })
      expect(saves).toHaveLength(1)
      // The saved text never holds a caller's own cache settings.
      expect(JSON.parse(saves[0]!)).not.toHaveProperty("stickyCacheSize")
      expect(JSON.parse(saves[0]!)).not.toHaveProperty("stickyCacheTtl")
      // The held config is now the latest caller's.
      const current = yield* settings.get
      expect(current.config).toBe(other.config)
    }))

  it.scoped("a changed pool field is saved once", () =>
    Effect.gen(function*() {
      const { record, saves, settings } = yield* settingsOver(yield* freshStorage)
      const raw = config({ minContainers: 2 })
      yield* settings.adopt(raw)
      const changed = { ...raw, minContainers: 3 }
      const adopted = yield* settings.adopt(changed)
      yield* settings.adopt({ ...changed })
      yield* settings.adopt(changed)

      expect(adopted.config.minContainers).toBe(3)
      expect(saves).toEqual([poolPart(raw), poolPart(changed)])
      expect(yield* record.config).toBe(poolPart(changed))
      expect((yield* settings.get).config.minContainers).toBe(3)
    }))

  it.scoped("a bad config fails with InvalidConfig and leaves the saved config as it was", () =>
    Effect.gen(function*() {
      const { record, saves, settings } = yield* settingsOver(yield* freshStorage)
      const raw = config({ minContainers: 2 })
      const held = yield* settings.adopt(raw)

      const error = yield* Effect.flip(settings.adopt({ ...raw, minContainers: -1 }))
      expect(error).toBeInstanceOf(InvalidConfig)
      expect(error).toMatchObject({ field: "minContainers" })
      const unknownField = yield* Effect.flip(settings.adopt({ ...raw, extra: true }))
      expect(unknownField).toMatchObject({ _tag: "InvalidConfig", field: "extra" })

      expect(saves).toHaveLength(1)
      expect(yield* record.config).toBe(poolPart(raw))
      expect((yield* settings.get).config).toBe(held.config)
    }))

  it.scoped("a config whose container binding does not resolve fails and saves nothing", () =>
    Effect.gen(function*() {
      const { record, saves, settings } = yield* settingsOver(yield* freshStorage)
      const error = yield* Effect.flip(settings.adopt(config({ containerBinding: "MISSING" })))
      expect(error).toBeInstanceOf(InvalidContainerBinding)
      expect(error).toMatchObject({ binding: "MISSING" })
      expect(saves).toEqual([])
      expect(yield* record.config).toBeUndefined()
      expect(Option.isNone(yield* settings.current)).toBe(true)

      // Nor does it replace a config already held.
      const raw = config({ minContainers: 2 })
      yield* settings.adopt(raw)
      yield* Effect.flip(settings.adopt({ ...raw, containerBinding: "MISSING" }))
      expect(saves).toEqual([poolPart(raw)])
      expect((yield* settings.get).config.containerBinding).toBe("CONTAINER")
    }))

  it.scoped("a new instance over the same storage reads the saved config on first use", () =>
    Effect.gen(function*() {
      const storage = yield* freshStorage
      // Built before anything is saved: it must not read the config until it is used.
      const later = yield* settingsOver(storage)
      const first = yield* settingsOver(storage)
      const raw = config({ minContainers: 3, maxContainers: 7, ports: [8080], stickyCacheSize: 5 })
      yield* first.settings.adopt(raw)

      const loaded = yield* later.settings.get
      const { stickyCacheSize: _size, stickyCacheTtl: _ttl, traceSessionIds: _trace, ...pool } = raw
      expect(loaded.config).toMatchObject(pool)
      expect(poolPart(loaded.config)).toBe(poolPart(raw))
      const containers = yield* loaded.containers
      expect(containers.newName).toBeTypeOf("function")
      expect(Option.map(yield* later.settings.current, (s) => s.config)).toEqual(Option.some(loaded.config))
      // The same pool part adopted again is not saved again by the new instance.
      yield* later.settings.adopt(raw)
      expect(later.saves).toEqual([])
    }))

  it.scoped("a pool never configured has no settings: `get` fails with PoolUnavailable", () =>
    Effect.gen(function*() {
      const { settings } = yield* settingsOver(yield* freshStorage)
      expect(Option.isNone(yield* settings.current)).toBe(true)
      const error = yield* Effect.flip(settings.get)
      expect(error).toBeInstanceOf(PoolUnavailable)
    }))

  it.scoped("a saved config that no longer decodes counts as none", () =>
    Effect.gen(function*() {
      const storage = yield* freshStorage
      for (const garbage of ["{not json", JSON.stringify({ minContainers: -5 }), JSON.stringify({ shiny: true })]) {
        PoolRecord.make(storage).saveConfig(garbage).pipe(Effect.runSync)
        const { saves, settings } = yield* settingsOver(storage)
        expect(Option.isNone(yield* settings.current), garbage).toBe(true)
        expect(yield* Effect.flip(settings.get)).toBeInstanceOf(PoolUnavailable)
        // A caller's config then replaces it.
        const raw = config({ minContainers: 1 })
        yield* settings.adopt(raw)
        expect(saves).toEqual([poolPart(raw)])
      }
    }))
})
