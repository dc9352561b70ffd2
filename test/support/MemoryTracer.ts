/**
 * An in-memory tracer, standing in for an OpenTelemetry exporter: it records each span's name,
 * parent, attributes and exit, so tests can assert the span tree an operation leaves.
 */
import type { Exit } from "effect"
import { Option, Tracer } from "effect"

export interface RecordedSpan {
  readonly name: string
  readonly spanId: string
  readonly parentId: string | undefined
  readonly attributes: Map<string, unknown>
  exit: Exit.Exit<unknown, unknown> | undefined
}

export const makeMemoryTracer = () => {
  const spans: Array<RecordedSpan> = []
  let serial = 0
  const tracer = Tracer.make({
    span: (name, parent, context, links, _startTime, kind) => {
      const recorded: RecordedSpan = {
        name,
        spanId: `span-${++serial}`,
        parentId: Option.getOrUndefined(Option.map(parent, (p) => p.spanId)),
        attributes: new Map(),
        exit: undefined
      }
      spans.push(recorded)
      const status: Tracer.SpanStatus = { _tag: "Started", startTime: 0n }
      return {
        _tag: "Span",
        name,
        spanId: recorded.spanId,
        traceId: "trace",
        parent,
        context,
        status,
        attributes: recorded.attributes,
        links,
        sampled: true,
        kind,
        end: (_endTime, exit) => void (recorded.exit = exit),
        attribute: (key, value) => void recorded.attributes.set(key, value),
        event: () => undefined,
        addLinks: () => undefined
      }
    },
    context: (f) => f()
  })

  /** The spans under `root` (by name), as nested `name [attr=value…]` lines, children in start order. */
  const tree = (rootName: string, shown: ReadonlyArray<string> = []): Array<string> => {
    const root = spans.find((span) => span.name === rootName)
    if (root === undefined) return []
    const lines: Array<string> = []
    const visit = (span: RecordedSpan, depth: number) => {
      const attrs = shown.filter((key) => span.attributes.has(key)).map((key) => `${key}=${String(span.attributes.get(key))}`)
      lines.push(`${"  ".repeat(depth)}${span.name}${attrs.length > 0 ? ` [${attrs.join(" ")}]` : ""}`)
      for (const child of spans.filter((s) => s.parentId === span.spanId)) visit(child, depth + 1)
    }
    visit(root, 0)
    return lines
  }

  return { tracer, spans, tree, clear: () => void spans.splice(0) }
}
