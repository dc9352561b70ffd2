import { makeMemoryStore } from "../../src/PoolStore.js"
import { storeContract } from "../support/storeContract.js"

storeContract("in-memory", (body) => body(makeMemoryStore()))
