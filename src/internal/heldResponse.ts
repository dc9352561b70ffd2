/**
 * A response that keeps its session's hold until its body has been fully sent, cancelled or failed.
 * The scope of a request would otherwise close as soon as `fetch` resolves, before a streamed body is
 * read, and the container could be released or stopped mid-body.
 */

/**
 * `response`, with `release` called exactly once when its body ends, is cancelled or fails; at once
 * when it has no body. A WebSocket upgrade (`webSocket` set) is returned as is and its hold is kept:
 * the socket's end cannot be seen here, so the holder lapses `acquireTimeout` after its last renewal.
 */
export const holdUntilBodyDone = (response: Response, release: () => void): Response => {
  let released = false
  const releaseOnce = () => {
    if (released) return
    released = true
    release()
  }
  if ((response as { webSocket?: unknown }).webSocket != null) return response
  const source = response.body
  if (source === null) {
    releaseOnce()
    return response
  }
  const reader = source.getReader()
  // The reader's end is handled by `pull` and `cancel`; its own `closed` promise must not surface as unhandled.
  reader.closed.catch(() => {})
  let cancelled = false
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read()
        if (chunk.done) {
          controller.close()
          releaseOnce()
        } else {
          controller.enqueue(chunk.value)
        }
      } catch (error) {
        releaseOnce()
        // A read pending when the reader cancelled fails with the cancel's reason: the stream is over already.
        if (!cancelled) controller.error(error)
      }
    },
    async cancel(reason) {
      cancelled = true
      try {
        await reader.cancel(reason)
      } finally {
        releaseOnce()
      }
    }
  }, { highWaterMark: 0 }) // No read-ahead: the body's end is when the reader took its last chunk.
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}
