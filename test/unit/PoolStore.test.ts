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
      expect(await Effect.runPromise(store.returnToWarm("held", 0))).toBe(true)
      expect(await Effect.runPromise(store.assignWarm("t", { expiresAt: 99, cachedUntil: 0 }))).toBe("held")
      expect(await Effect.runPromise(store.lease("t"))).toMatchObject({ fence: 2 })
    } finally {
      storage.close()
    }
  })
})
