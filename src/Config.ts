/**
 * The pool's configuration: its Schema, its defaults and its validation.
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import { InvalidConfig } from "./Errors.js"

/** Largest delay a JavaScript timer accepts; longer timeouts would fire at once. */
export const MAX_DURATION_MS = 2_147_483_647
/** Far above the container instances a Cloudflare account allows, yet a finite sanity bound. */
export const MAX_CONTAINERS = 1_000_000
/** Highest `maxStartsPerSecond`: far above any platform's start rate, yet a finite bound. */
export const MAX_STARTS_PER_SECOND = 10_000
/** The autoscaler's windows when the config leaves them out (Knative's 60 s and 6 s). */
export const DEFAULT_STABLE_WINDOW_MS = 60_000
export const DEFAULT_PANIC_WINDOW_MS = 6_000
/** `idleTimeout` when the config leaves it out and `autoscale` is on; with `autoscale` off, warm containers never idle out. */
export const DEFAULT_AUTOSCALE_IDLE_TIMEOUT_MS = 300_000
/** Most session ids one isolate's sticky cache may hold per pool. */
export const MAX_STICKY_CACHE_SIZE = 1_000_000

const describe = (actual: unknown): string => {
  if (typeof actual === "number" || typeof actual === "boolean" || actual === null || actual === undefined) {
    return String(actual)
  }
  if (typeof actual === "string") return actual.length <= 40 ? JSON.stringify(actual) : "a long string"
  return Array.isArray(actual) ? "an array" : `a ${typeof actual}`
}

const integerIn = (min: number, max: number) =>
  Schema.Number.pipe(Schema.filter((n) => Number.isSafeInteger(n) && n >= min && n <= max)).annotations({
    message: (issue) => ({
      message: `must be an integer from ${min} to ${max}, got ${describe(issue.actual)}`,
      override: true
    })
  })

const Port = integerIn(1, 65_535)

const Ports = Schema.Array(Port).pipe(
  Schema.filter((ports) => ports.length <= 32 && new Set(ports).size === ports.length)
).annotations({
  message: (issue) => ({
    message: Array.isArray(issue.actual)
      ? "must hold at most 32 distinct ports, each an integer from 1 to 65535"
      : `must be an array of ports, got ${describe(issue.actual)}`,
    override: true
  })
})

const Name = Schema.String.pipe(Schema.filter((s) => s.length >= 1 && s.length <= 256)).annotations({
  message: (issue) => ({ message: `must be a string of 1 to 256 characters, got ${describe(issue.actual)}`, override: true })
})

const BindingName = Schema.String.pipe(Schema.filter((s) => /^[A-Za-z_$][\w$]{0,127}$/.test(s))).annotations({
  message: (issue) => ({
    message: `must be a binding name (a JavaScript identifier), got ${describe(issue.actual)}`,
    override: true
  })
})

/** A rate: a positive, finite number (fractions allowed: 0.5 is one start every 2 s). */
const Rate = Schema.Number.pipe(Schema.filter((n) => Number.isFinite(n) && n > 0 && n <= MAX_STARTS_PER_SECOND)).annotations({
  message: (issue) => ({
    message: `must be a number above 0 and at most ${MAX_STARTS_PER_SECOND}, got ${describe(issue.actual)}`,
    override: true
  })
})

const Flag = Schema.Boolean.annotations({
  message: (issue) => ({ message: `must be true or false, got ${describe(issue.actual)}`, override: true })
})

/** Optional with no stored default: an absent key keeps the behaviour of the versions before it. */
const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

const withDefault = <S extends Schema.Schema.Any>(schema: S, value: () => Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { default: value })

const ConfigFields = Schema.Struct({
  minContainers: withDefault(integerIn(0, MAX_CONTAINERS), () => 1),
  maxContainers: withDefault(integerIn(1, MAX_CONTAINERS), () => 10),
  acquireTimeout: withDefault(integerIn(1, MAX_DURATION_MS), () => 300_000),
  healthCheckInterval: withDefault(integerIn(1, MAX_DURATION_MS), () => 30_000),
  ports: withDefault(Ports, () => []),
  startupTimeout: withDefault(integerIn(1, MAX_DURATION_MS), () => 30_000),
  startRetries: withDefault(integerIn(0, 10), () => 2),
  name: withDefault(Name, () => "default"),
  containerBinding: withDefault(BindingName, () => "CONTAINER"),
  stickyCacheSize: withDefault(integerIn(0, MAX_STICKY_CACHE_SIZE), () => 10_000),
  stickyCacheTtl: withDefault(integerIn(1, MAX_DURATION_MS), () => 30_000),
  /** Whether spans carry session ids (personal data, maybe): off unless the caller opts in. */
  traceSessionIds: withDefault(Flag, () => false),
  // Demand-driven sizing (see `internal/Autoscaler.ts`); absent means off, as before these keys existed.
  autoscale: optional(Flag),
  autoscaleStableWindow: optional(integerIn(1, MAX_DURATION_MS)),
  autoscalePanicWindow: optional(integerIn(1, MAX_DURATION_MS)),
  idleTimeout: optional(integerIn(1, MAX_DURATION_MS)),
  // The start governor (see `internal/StartGovernor.ts`).
  maxStartsPerSecond: optional(Rate),
  // Recycling (see `internal/Recycling.ts`).
  revision: optional(Name),
  maxContainerAge: optional(integerIn(1, MAX_DURATION_MS))
})

/** The config Schema: decodes user options into a complete, validated config. */
export const WarmPoolConfig = ConfigFields.pipe(
  Schema.filter((config) =>
    config.minContainers <= config.maxContainers
      ? undefined
      : {
        path: ["minContainers"],
        message: `must not exceed maxContainers (${config.minContainers} > ${config.maxContainers})`
      }
  ),
  Schema.filter((config) => {
    const stable = config.autoscaleStableWindow ?? DEFAULT_STABLE_WINDOW_MS
    const panic = config.autoscalePanicWindow ?? DEFAULT_PANIC_WINDOW_MS
    return panic <= stable
      ? undefined
      : { path: ["autoscalePanicWindow"], message: `must not exceed autoscaleStableWindow (${panic} > ${stable})` }
  })
)

/** A complete, validated config. */
export type WarmPoolConfig = typeof WarmPoolConfig.Type

/** What a user passes: every field optional. */
export type WarmPoolOptions = Partial<WarmPoolConfig>

/** The README's defaults. */
export const defaults: WarmPoolConfig = Schema.decodeUnknownSync(WarmPoolConfig)({})

const decode = Schema.decodeUnknownEither(WarmPoolConfig, { onExcessProperty: "error", errors: "first" })

/** Field names come from the caller (an unknown key can be megabytes long): errors quote at most this much. */
const MAX_FIELD_LENGTH = 64

const fieldName = (path: ReadonlyArray<PropertyKey>): string => {
  const field = path.map(String).join(".")
  return field.length <= MAX_FIELD_LENGTH ? field : `${field.slice(0, MAX_FIELD_LENGTH)}… (${field.length} characters)`
}

const toInvalidConfig = (error: ParseResult.ParseError): InvalidConfig => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  if (issue === undefined) return new InvalidConfig({ field: "config", reason: "is invalid" })
  const field = issue.path.length > 0 ? fieldName(issue.path) : "config"
  if (issue._tag === "Unexpected") return new InvalidConfig({ field, reason: "is not a known option" })
  if (issue.path.length === 0) {
    return new InvalidConfig({ field, reason: `must be an object, got ${describe(error.issue.actual)}` })
  }
  return new InvalidConfig({ field, reason: issue.message })
}

/** Validates untrusted options (from users or from RPC callers) into a complete config. */
export const decodeConfig = (options: unknown): Effect.Effect<WarmPoolConfig, InvalidConfig> =>
  Either.match(decode(options === undefined ? {} : options), {
    onLeft: (error) => Effect.fail(toInvalidConfig(error)),
    onRight: Effect.succeed
  })
