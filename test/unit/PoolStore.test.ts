import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { PoolRecord, PoolStore } from "../../src/internal/PoolStore.js"
import { migrate } from "../../src/internal/SqlitePoolStore.js"
import { makeSqlJsStorageSync } from "../support/SqlJsStorage.js"
import { storeContract } from "../support/storeContract.js"

storeContract("SQLite on sql.js", async (body) => {
  const storage = makeSqlJsStorageSync()
  try {
    migrate(storage)
    await body({ store: Effect.runSync(PoolStore.make(storage)), record: PoolRecord.make(storage) })
  } finally {
    storage.close()
  }
})

describe("migrate", () => {
  it("adds the binding and fence columns to a wp_slots table created before it, keeping its rows", async () => {
    const storage = makeSqlJsStorageSync()
    try {
      storage.sql.exec(`CREATE TABLE wp_slots (
        container TEXT PRIMARY KEY, state TEXT NOT NULL, session_id TEXT,
        expires_at INTEGER NOT NULL DEFAULT 0, cached_until INTEGER NOT NULL DEFAULT 0, check_due_at INTEGER
      ) WITHOUT ROWID`)
      storage.sql.exec(`INSERT INTO wp_slots (container, state) VALUES ('old', 'stopping')`)
      migrate(storage)
      migrate(storage) // idempotent
      const store = Effect.runSync(PoolStore.make(storage))
      await Effect.runPromise(store.reserve([{ container: "new", state: "warming", sessionId: null, binding: "B" }]))
      expect(await Effect.runPromise(store.slot("old"))).not.toHaveProperty("binding")
      expect(await Effect.runPromise(store.slot("new"))).toMatchObject({ binding: "B" })
      // The lease epoch column: a lease leased before it existed starts from 0 and is bumped like any other.
      storage.sql.exec(`INSERT INTO wp_slots (container, state, session_id, expires_at) VALUES ('held', 'acquired', 's', 99)`)
      expect(await Effect.runPromise(store.lease("s"))).toMatchObject({ container: "held", fence: 0 })
      expect(await Effect.runPromise(store.recycle("held"))).toBe(1)
      expect(await Effect.runPromise(store.rejoinWarm("held", 1, 0))).toBe(true)
      expect(await Effect.runPromise(store.assignWarm("t", { expiresAt: 99, cachedUntil: 0 }))).toBe("held")
      expect(await Effect.runPromise(store.lease("t"))).toMatchObject({ fence: 2 })
    } finally {
      storage.close()
    }
  })

  it("replaces the state-change trigger of an older database, so a released container's return is no start", async () => {
    const storage = makeSqlJsStorageSync()
    try {
      migrate(storage)
      const triggers = () =>
        storage.sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'wp_slots_moved%'`)
          .toArray().map((row) => row.name)
      // An older database: its trigger counted any warming → warm move as a start.
      storage.sql.exec(`DROP TRIGGER wp_slots_moved_v3`)
      storage.sql.exec(`CREATE TRIGGER wp_slots_moved_v2 AFTER UPDATE OF state ON wp_slots WHEN OLD.state <> NEW.state BEGIN
        UPDATE wp_pool SET starts_ok = starts_ok + 1 WHERE id = 1; END`)
      migrate(storage)
      expect(triggers()).toEqual(["wp_slots_moved_v3"])
      const store = Effect.runSync(PoolStore.make(storage))
      const record = PoolRecord.make(storage)
      await Effect.runPromise(store.reserve([{ container: "c", state: "starting", sessionId: "s" }]))
      await Effect.runPromise(store.bind("c", { expiresAt: 99, cachedUntil: 0 }, 0))
      const epoch = await Effect.runPromise(store.recycle("c"))
      await Effect.runPromise(store.rejoinWarm("c", epoch!, 0))
      expect((await Effect.runPromise(record.metrics)).starts.succeeded, "the cold start only").toBe(1)
    } finally {
      storage.close()
    }
  })
})
