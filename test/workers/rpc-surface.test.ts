/**
 * The `WarmPool` Durable Object's RPC surface is exactly the protocol's methods: its test hooks
 * sit under a symbol, which RPC cannot reach, so no caller can run a tick or wait on its work.
 */
import { describe, expect, it } from "vitest"
import { testHooks } from "../../src/internal/testHooks.js"
import { methods } from "../../src/Protocol.js"
import { WarmPool } from "../../src/WarmPool.js"

describe("WarmPool's RPC surface", () => {
  it("has exactly the protocol's methods as string-named members, besides constructor and alarm", () => {
    const own = Object.getOwnPropertyNames(WarmPool.prototype).sort()
    expect(own).toEqual([...Object.keys(methods), "constructor", "alarm"].sort())
    expect(own).not.toContain("tick")
    expect(own).not.toContain("settled")
    for (const name of Object.keys(methods)) {
      expect(typeof (WarmPool.prototype as unknown as Record<string, unknown>)[name], name).toBe("function")
    }
  })

  it("keeps its test hooks under a symbol", () => {
    expect(typeof testHooks).toBe("symbol")
    expect(Object.getOwnPropertySymbols(WarmPool.prototype)).toEqual([testHooks])
    const hooks = Object.getOwnPropertyDescriptor(WarmPool.prototype, testHooks)
    expect(hooks?.get).toBeTypeOf("function")
  })
})
