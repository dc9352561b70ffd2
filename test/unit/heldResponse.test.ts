/**
 * The response of `fetch(sessionId, request)`: its hold is released exactly once, when the body has
 * been fully read, cancelled or has failed, and at once for a response without a body.
 */
import { describe, expect, it } from "@effect/vitest"
import { holdUntilBodyDone } from "../../src/internal/heldResponse.js"

/** A body the test feeds chunk by chunk, or fails. */
const controlledBody = () => {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let cancelled: unknown = "not cancelled"
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: (reason) => void (cancelled = reason)
  })
  return {
    stream,
    push: (text: string) => controller.enqueue(new TextEncoder().encode(text)),
    end: () => controller.close(),
    fail: (error: Error) => controller.error(error),
    cancelled: () => cancelled
  }
}

const counter = () => {
  const calls = { n: 0 }
  return { calls, release: () => void calls.n++ }
}

describe("holdUntilBodyDone", () => {
  it("keeps the hold while the body streams, and releases it once when the body ends", async () => {
    const body = controlledBody()
    const { calls, release } = counter()
    const response = holdUntilBodyDone(new Response(body.stream, { status: 201, headers: { "x-a": "1" } }), release)
    expect(response.status).toBe(201)
    expect(response.headers.get("x-a")).toBe("1")
    const reader = response.body!.getReader()
    body.push("one")
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("one")
    expect(calls.n, "held mid-body").toBe(0)
    body.push("two")
    await reader.read()
    expect(calls.n).toBe(0)
    body.end()
    expect((await reader.read()).done).toBe(true)
    expect(calls.n).toBe(1)
    await reader.closed
    expect(calls.n).toBe(1)
  })

  it("releases once when the reader cancels, and passes the cancel on to the container's body", async () => {
    const body = controlledBody()
    const { calls, release } = counter()
    const response = holdUntilBodyDone(new Response(body.stream), release)
    const reader = response.body!.getReader()
    body.push("partial")
    await reader.read()
    expect(calls.n).toBe(0)
    await reader.cancel("client went away")
    expect(calls.n).toBe(1)
    expect(body.cancelled()).toBe("client went away")
  })

  it("releases once when the container's body fails, and the reader sees the failure", async () => {
    const body = controlledBody()
    const { calls, release } = counter()
    const response = holdUntilBodyDone(new Response(body.stream), release)
    const reader = response.body!.getReader()
    body.fail(new Error("connection reset"))
    await expect(reader.read()).rejects.toThrow("connection reset")
    expect(calls.n).toBe(1)
  })

  it("releases at once for a response without a body, and returns it as is", () => {
    const { calls, release } = counter()
    const original = new Response(null, { status: 204 })
    expect(holdUntilBodyDone(original, release)).toBe(original)
    expect(calls.n).toBe(1)
  })

  it("keeps the hold of a WebSocket upgrade: it lapses by acquireTimeout", () => {
    const { calls, release } = counter()
    const upgrade = Object.assign(new Response("x"), { webSocket: {} })
    expect(holdUntilBodyDone(upgrade, release)).toBe(upgrade)
    expect(calls.n).toBe(0)
  })

  it("a body read whole through text() releases the hold", async () => {
    const { calls, release } = counter()
    const response = holdUntilBodyDone(new Response("hello"), release)
    expect(calls.n).toBe(0)
    expect(await response.text()).toBe("hello")
    expect(calls.n).toBe(1)
  })
})
