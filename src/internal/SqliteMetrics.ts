/**
 * The pool's metrics on SQLite, kept O(1): counters on the pool's single row, moved by the same
 * triggers that keep its counts, so every figure changes in the transaction of the operation it
 * counts, and `stats()` reads one row whatever the pool's size.
 *
 * Container-seconds: each slot records when it entered its state (`since`). A slot leaving `warm`
 * (or `acquired`) adds its time there to a closed total; the pool row also keeps the sum of `since`
 * over the slots in that state, so time still accruing is `count × now − sum`, read in O(1).
 */
import type { SqlStorageLike } from "./SqlitePoolStore.js"

/** Recent start durations kept for the median and p95 (a JSON array on the pool row). */
export const START_WINDOW = 64

/** Columns added to `wp_pool` for the metrics; each defaults so an older row reads as zero. */
export const poolMetricColumns: ReadonlyArray<readonly [name: string, definition: string]> = [
  ["sessions_warm", "INTEGER NOT NULL DEFAULT 0"],
  ["sessions_cold", "INTEGER NOT NULL DEFAULT 0"],
  ["sessions_refused", "INTEGER NOT NULL DEFAULT 0"],
  ["starts_ok", "INTEGER NOT NULL DEFAULT 0"],
  ["starts_timeout", "INTEGER NOT NULL DEFAULT 0"],
  ["starts_limit", "INTEGER NOT NULL DEFAULT 0"],
  ["starts_other", "INTEGER NOT NULL DEFAULT 0"],
  ["start_window", "TEXT NOT NULL DEFAULT '[]'"],
  ["warm_ms", "INTEGER NOT NULL DEFAULT 0"],
  ["leased_ms", "INTEGER NOT NULL DEFAULT 0"],
  ["warm_since_sum", "INTEGER NOT NULL DEFAULT 0"],
  ["leased_since_sum", "INTEGER NOT NULL DEFAULT 0"]
]

/**
 * Columns added to `wp_slots` for the metrics and `inspect`: when the slot entered its state and
 * was created, and its last health check (time and whether the container answered).
 */
export const slotMetricColumns: ReadonlyArray<readonly [name: string, definition: string]> = [
  ["since", "INTEGER NOT NULL DEFAULT 0"],
  ["created_at", "INTEGER NOT NULL DEFAULT 0"],
  ["checked_at", "INTEGER"],
  ["check_ok", "INTEGER"]
]

const sinceSums = (row: "NEW" | "OLD", sign: "+" | "-") =>
  `warm_since_sum = warm_since_sum ${sign} (${row}.state = 'warm') * ${row}.since,
   leased_since_sum = leased_since_sum ${sign} (${row}.state = 'acquired') * ${row}.since`

// A start has never been leased (epoch 0): a released container returning through `warming` is no start.
const started = `OLD.state IN ('warming', 'starting') AND NEW.state IN ('warm', 'acquired') AND OLD.fence = 0`

/** What the insert trigger adds to its single write of the pool row. */
export const onInsert = sinceSums("NEW", "+")

/** What the delete trigger adds (a slot is deleted from `stopping` or before it started, so nothing accrues). */
export const onDelete = sinceSums("OLD", "-")

/** What the state-change trigger adds: time closed, sessions served, starts and their durations. */
export const onMove = `
  warm_ms = warm_ms + (OLD.state = 'warm') * (NEW.since - OLD.since),
  leased_ms = leased_ms + (OLD.state = 'acquired') * (NEW.since - OLD.since),
  warm_since_sum = warm_since_sum + (NEW.state = 'warm') * NEW.since - (OLD.state = 'warm') * OLD.since,
  leased_since_sum = leased_since_sum + (NEW.state = 'acquired') * NEW.since - (OLD.state = 'acquired') * OLD.since,
  sessions_warm = sessions_warm + (OLD.state = 'warm' AND NEW.state = 'acquired'),
  sessions_cold = sessions_cold + (OLD.state = 'starting' AND NEW.state = 'acquired'),
  starts_ok = starts_ok + (${started}),
  start_window = CASE WHEN ${started} THEN json_insert(
    CASE WHEN json_array_length(start_window) >= ${START_WINDOW} THEN json_remove(start_window, '$[0]') ELSE start_window END,
    '$[#]', max(0, NEW.since - OLD.since)) ELSE start_window END`

/**
 * Run once, when `since` is added to an older table: its rows start their time now, and the sums
 * are recomputed (the one scan, at migration, never on a request path).
 */
export const stampOlderSlots = (storage: SqlStorageLike, now: number): void => {
  storage.transactionSync(() => {
    storage.sql.exec(`UPDATE wp_slots SET since = ?, created_at = ? WHERE since = 0`, now, now)
    storage.sql.exec(`UPDATE wp_pool SET
      warm_since_sum = (SELECT coalesce(sum(since), 0) FROM wp_slots WHERE state = 'warm'),
      leased_since_sum = (SELECT coalesce(sum(since), 0) FROM wp_slots WHERE state = 'acquired')`)
  })
}

/** Why a start attempt failed, for the counters. */
export type StartFailureCause = "timeout" | "platformLimit" | "other"

export const startFailureColumn: Record<StartFailureCause, string> = {
  timeout: "starts_timeout",
  platformLimit: "starts_limit",
  other: "starts_other"
}

/** The metrics columns of the pool row, as `stats()` reads them with its counts. */
export const METRICS = [
  "start_failures",
  ...poolMetricColumns.map(([name]) => name)
].join(", ")

export interface MetricsRow extends Record<string, number | string> {
  start_failures: number
  sessions_warm: number
  sessions_cold: number
  sessions_refused: number
  starts_ok: number
  starts_timeout: number
  starts_limit: number
  starts_other: number
  start_window: string
  warm_ms: number
  leased_ms: number
  warm_since_sum: number
  leased_since_sum: number
}

/** What the pool row says about its history, as `stats()` reports it (see `Protocol.PoolStats`). */
export interface Metrics {
  readonly startFailures: number
  readonly newSessions: { readonly warm: number; readonly cold: number; readonly refused: number }
  readonly starts: {
    readonly succeeded: number
    readonly failed: number
    readonly failedBy: { readonly timeout: number; readonly platformLimit: number; readonly other: number }
  }
  readonly startTimeMs: { readonly median: number | null; readonly p95: number | null; readonly samples: number }
  readonly containerSeconds: { readonly warmIdle: number; readonly leased: number }
}

/** The value at quantile `q` of `values` (nearest rank), or null when there are none. */
export const quantile = (values: ReadonlyArray<number>, q: number): number | null => {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

const parseWindow = (json: string): ReadonlyArray<number> => {
  try {
    const parsed: unknown = JSON.parse(json)
    return Array.isArray(parsed) ? parsed.filter((n): n is number => typeof n === "number" && n >= 0) : []
  } catch {
    return []
  }
}

const seconds = (ms: number) => Math.max(0, Math.round(ms) / 1000)

/** The metrics from the pool row and the current counts, at `now`: pure arithmetic, no further reads. */
export const toMetrics = (
  row: MetricsRow,
  counts: { readonly warm: number; readonly acquired: number },
  now: number
): Metrics => {
  const window = parseWindow(row.start_window)
  const failed = row.starts_timeout + row.starts_limit + row.starts_other
  return {
    startFailures: row.start_failures,
    newSessions: { warm: row.sessions_warm, cold: row.sessions_cold, refused: row.sessions_refused },
    starts: {
      succeeded: row.starts_ok,
      failed,
      failedBy: { timeout: row.starts_timeout, platformLimit: row.starts_limit, other: row.starts_other }
    },
    startTimeMs: { median: quantile(window, 0.5), p95: quantile(window, 0.95), samples: window.length },
    containerSeconds: {
      warmIdle: seconds(row.warm_ms + counts.warm * now - row.warm_since_sum),
      leased: seconds(row.leased_ms + counts.acquired * now - row.leased_since_sum)
    }
  }
}

/**
 * Why a start attempt failed, from its reason: the pool's own timeout, the platform refusing more
 * instances (`@cloudflare/containers` says "there is no container instance that can be provided";
 * other messages name a maximum, a limit or capacity), or anything else.
 */
export const classifyStartFailure = (reason: string): StartFailureCause =>
  /startupTimeout|timed? ?out/i.test(reason)
    ? "timeout"
    : /no container instance|max(imum)?\b.*\binstances|limit|capacity|quota/i.test(reason)
    ? "platformLimit"
    : "other"

/** One container as `inspect` lists it. */
export interface SlotView {
  readonly container: string
  readonly state: string
  readonly sessionId: string | null
  readonly createdAt: number
  readonly leaseExpiresAt: number | null
  readonly lastCheck: { readonly at: number; readonly ok: boolean } | null
  readonly binding: string | null
  readonly revision: string | null
}

export interface SlotViewRow extends Record<string, number | string | null> {
  container: string
  state: string
  session_id: string | null
  expires_at: number
  created_at: number
  checked_at: number | null
  check_ok: number | null
  binding: string | null
  revision: string | null
}

/** Slots after `cursor` in name order: the primary key, so a page reads `limit` rows at any pool size. */
export const PAGE = `SELECT container, state, session_id, expires_at, created_at, checked_at, check_ok, binding, revision
  FROM wp_slots WHERE container > ? ORDER BY container LIMIT ?`

export const toSlotView = (row: SlotViewRow): SlotView => ({
  container: row.container,
  state: row.state,
  sessionId: row.state === "acquired" ? row.session_id : null,
  createdAt: row.created_at,
  leaseExpiresAt: row.state === "acquired" ? row.expires_at : null,
  lastCheck: row.checked_at === null ? null : { at: row.checked_at, ok: row.check_ok === 1 },
  binding: row.binding,
  revision: row.revision
})
