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
