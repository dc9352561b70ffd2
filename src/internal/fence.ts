/**
 * The fence: what a `PooledContainer` admits, as pure functions shared by the container, the pool
 * and the client. No Cloudflare imports, so it runs (and is tested) anywhere.
 *
 * Each lease of a container carries a token: the slot's lease epoch, a per-container counter the pool
 * bumps in the same SQLite step that starts or ends a lease (and a stop is final). The container keeps the
 * newest epoch it has seen. A request's token is admitted when it is that epoch and the lease holds, or
 * newer (a lease the pool made since: admitted on its first request, so a new session pays no extra hop).
 * Anything older was ended (released, or a later lease took the container), and a stopped container
 * admits nothing. Epochs only grow, so a pool message that arrives late never undoes a newer one.
 */

/** The request header that carries a lease's token from the client's stub to the container. */
export const LEASE_HEADER = "x-warm-pool-lease"
/** Set on a fence's `410 Gone`, with the reason: how clients tell it from the app's own 410s. */
export const FENCED_HEADER = "x-warm-pool-fenced"
/** What a `PooledContainer` answers to the pool's calls, so the pool knows the container is fenced. */
export const FENCE_MARK = "warm-pool-fence/1"

/** Why the pool stopped a container: told to it with the stop, and quoted by its `410`s ever after. */
export const stopReasons = ["stopped", "released", "expired", "shut-down", "dead", "retired"] as const
export type StopReason = typeof stopReasons[number]

/** Why a request was refused. */
export type FenceReason = StopReason | "never-leased" | "no-token" | "leased-again"

export const fenceMessages: Record<FenceReason, string> = {
  stopped: "the pool stopped this container",
  released: "this container's lease was released",
  expired: "this container's lease expired and the pool stopped it",
  "shut-down": "the pool was shut down and stopped this container",
  dead: "the pool dropped this container as dead",
  retired: "the pool retired this container (its container binding changed)",
  "never-leased": "the pool has never leased this container to a session (it never started it, or it is warm)",
  "no-token": "the request carries no lease token: get the container from the pool (getContainer or acquire)",
  "leased-again": "this container was leased again since this stub's lease (to another session, or anew)"
}

/** What a container remembers of the pool's word: the newest epoch, whether a lease holds, and why not. */
export interface FenceRecord {
  readonly epoch: number
  readonly leased: boolean
  /** Why the last lease ended, or why the container was stopped. */
  readonly reason: StopReason | null
  /** Stopped by the pool: never admits again (stopped containers are never reused). */
  readonly final: boolean
}

export type Verdict =
  | { readonly admitted: true; readonly record?: FenceRecord }
  | { readonly admitted: false; readonly reason: FenceReason }

/** A token as the header carries it: a non-negative integer, or none. */
export const parseToken = (value: string | null): number | undefined => {
  if (value === null || !/^\d{1,15}$/.test(value)) return undefined
  return Number(value)
}

/**
 * Whether a request with `token` may reach the container, and the record to keep when it admits a newer
 * lease. `record` is undefined when the pool never leased or stopped the container.
 */
export const admit = (record: FenceRecord | undefined, token: number | undefined): Verdict => {
  if (record?.final === true) return { admitted: false, reason: record.reason ?? "stopped" }
  if (token === undefined) return { admitted: false, reason: record === undefined ? "never-leased" : "no-token" }
  if (record === undefined || token > record.epoch) {
    return { admitted: true, record: { epoch: token, leased: true, reason: null, final: false } }
  }
  if (token === record.epoch && record.leased) return { admitted: true }
  return { admitted: false, reason: record.leased ? "leased-again" : record.reason ?? "released" }
}

/** A lease ended at `epoch` while the container goes back to the warm set; ignored if a newer word arrived. */
export const revoke = (record: FenceRecord | undefined, epoch: number, reason: StopReason): FenceRecord | undefined =>
  record?.final === true || (record !== undefined && record.epoch >= epoch)
    ? undefined
    : { epoch, leased: false, reason, final: false }

/** The pool stopped the container for good; a retried stop keeps the first one's reason. */
export const stop = (record: FenceRecord | undefined, reason: StopReason): FenceRecord =>
  record?.final === true ? record : { epoch: record?.epoch ?? 0, leased: false, reason, final: true }

export const isStopReason = (value: unknown): value is StopReason =>
  typeof value === "string" && (stopReasons as ReadonlyArray<string>).includes(value)

/** The body of a fence's `410 Gone`. */
export interface GoneBody {
  readonly reason: FenceReason
  readonly message: string
}

/** The `410 Gone` a refused request gets. */
export const gone = (reason: FenceReason): Response =>
  Response.json({ reason, message: fenceMessages[reason] } satisfies GoneBody, {
    status: 410,
    headers: { [FENCED_HEADER]: reason }
  })

/** The fence's reason when `response` is a fence's `410`, else undefined (an app's own 410 included). */
export const fencedReason = (response: Response): FenceReason | undefined => {
  if (response.status !== 410) return undefined
  const reason = response.headers.get(FENCED_HEADER)
  return reason !== null && Object.hasOwn(fenceMessages, reason) ? reason as FenceReason : undefined
}
