import { describe, expect, it } from "@effect/vitest"
import * as StickyCache from "../../src/StickyCache.js"

const entry = (container: string, validUntil = 1_000) => ({ container, validUntil, renewAfter: validUntil / 2, renewing: false })

describe("StickyCache", () => {
  it("serves an entry only before it lapses, and drops it after", () => {
    const cache = StickyCache.make()
    cache.set("a", entry("c1", 1_000), 10)
    expect(cache.get("a", 999)?.container).toBe("c1")
    expect(cache.get("a", 1_000)).toBeUndefined()
    expect(cache.size()).toBe(0)
  })

  it("evicts the least recently used beyond its capacity", () => {
    const cache = StickyCache.make()
    cache.set("a", entry("1"), 2)
    cache.set("b", entry("2"), 2)
    cache.get("a", 0) // a is now the most recent
    cache.set("c", entry("3"), 2)
    expect(cache.peek("b")).toBeUndefined()
    expect(cache.peek("a")?.container).toBe("1")
    expect(cache.size()).toBe(2)
  })

  it("holds nothing with capacity 0, and deletes on request", () => {
    const cache = StickyCache.make()
    cache.set("a", entry("1"), 0)
    expect(cache.size()).toBe(0)
    cache.set("b", entry("2"), 5)
    cache.delete("b")
    expect(cache.peek("b")).toBeUndefined()
  })

  it("counts hits, misses and renewals for end-to-end measurement", () => {
    const cache = StickyCache.make()
    cache.set("a", entry("1"), 5)
    cache.record("hit")
    cache.record("hit")
    cache.record("miss")
    cache.record("renewal")
    expect(cache.stats()).toEqual({ size: 1, hits: 2, misses: 1, renewals: 1 })
  })

  it("keeps one cache per pool namespace and name", () => {
    const namespace = {}
    expect(StickyCache.ofIsolate(namespace, "p")).toBe(StickyCache.ofIsolate(namespace, "p"))
    expect(StickyCache.ofIsolate(namespace, "q")).not.toBe(StickyCache.ofIsolate(namespace, "p"))
    expect(StickyCache.ofIsolate({}, "p")).not.toBe(StickyCache.ofIsolate(namespace, "p"))
  })
})
