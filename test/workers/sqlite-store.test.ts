import { env, runInDurableObject } from "cloudflare:test"
import { makeSqliteStore } from "../../src/SqlitePoolStore.js"
import { storeContract } from "../support/storeContract.js"

let serial = 0
// Each case runs inside a fresh Durable Object, on its SQLite storage.
storeContract("SQLite", (body) => {
  const stub = env.WARM_POOL.get(env.WARM_POOL.idFromName(`store-contract-${++serial}-${crypto.randomUUID()}`))
  return runInDurableObject(stub, (_instance, state) => body(makeSqliteStore(state.storage)))
})
