/**
 * The container's side of the fence, over its own Durable Object storage: `PooledContainer` (and the
 * workers tests' fenced stand-in) check every request here, and apply the pool's revocations and stops.
 * Reads and writes are synchronous (`storage.kv`, SQLite-backed), so a check costs no I/O wait.
 */
import type { FenceRecord, StopReason } from "./fence.js"
import { admit, FENCE_MARK, gone, isStopReason, LEASE_HEADER, parseToken, revoke, stop } from "./fence.js"

const KEY = "warm-pool-fence"

/** Either the request to forward (its token removed: the app never sees it), or the `410` to answer. */
export type Checked = { readonly request: Request; readonly refused?: undefined } | { readonly refused: Response }

export interface FenceKeeper {
  readonly record: () => FenceRecord | undefined
  readonly check: (request: Request) => Checked
  /** The pool ended a lease at `epoch` and returns the container to its warm set. */
  readonly revoke: (epoch: unknown, reason: unknown) => typeof FENCE_MARK
  /** The pool stops the container for good. */
  readonly stop: (reason: StopReason) => void
  /** Whether the pool stopped this container: it must not start again. */
  readonly stopped: () => boolean
}

export const make = (storage: Pick<DurableObjectStorage, "kv">): FenceKeeper => {
  const record = () => storage.kv.get<FenceRecord>(KEY)
  const save = (next: FenceRecord) => storage.kv.put(KEY, next)
  return {
    record,
    check: (request) => {
      const verdict = admit(record(), parseToken(request.headers.get(LEASE_HEADER)))
      if (!verdict.admitted) {
        // Drained: left unread, a streamed body fails the sender's pump with an unhandled "Network connection lost".
        void request.body?.pipeTo(new WritableStream()).catch(() => undefined)
        return { refused: gone(verdict.reason) }
      }
      if (verdict.record !== undefined) save(verdict.record)
      const forwarded = new Request(request)
      forwarded.headers.delete(LEASE_HEADER)
      return { request: forwarded }
    },
    revoke: (epoch, reason) => {
      if (typeof epoch !== "number" || !Number.isSafeInteger(epoch) || epoch < 0 || !isStopReason(reason)) {
        throw new TypeError("warmPoolRevoke(epoch, reason): epoch must be a non-negative integer and reason a stop reason")
      }
      const next = revoke(record(), epoch, reason)
      if (next !== undefined) save(next)
      return FENCE_MARK
    },
    stop: (reason) => save(stop(record(), reason)),
    stopped: () => record()?.final === true
  }
}
