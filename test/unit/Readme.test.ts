import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { defaults } from "../../src/Config.js"

const root = new URL("../../", import.meta.url)
const readme = readFileSync(new URL("README.md", root), "utf8")

describe("README", () => {
  it("shows the quick start that the integration suite runs, as written", () => {
    const section = readme.slice(readme.indexOf("## Quick start"))
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
    const tested = readFileSync(new URL("test/workers/quickstart.ts", root), "utf8")
    expect(block).toBe(tested)
  })

  it("shows the onStop example as it typechecks (test/workers/onStopExample.ts)", () => {
    const section = readme.slice(readme.indexOf("## Container stops"))
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
    expect(block).toBe(readFileSync(new URL("test/workers/onStopExample.ts", root), "utf8"))
  })

  it("links the reliability report, which states the generated steps CI runs", () => {
    expect(readme).toContain("[RELIABILITY.md](RELIABILITY.md)")
    const report = readFileSync(new URL("RELIABILITY.md", root), "utf8")
    expect(report).toMatch(/\*\*[\d,]+ generated steps with a fixed seed\*\*/)
  })

  it("documents every config option with its default", () => {
    for (const [option, value] of Object.entries(defaults)) {
      const row = readme.split("\n").find((line) => line.startsWith(`| \`${option}\` |`))
      expect(row, option).toBeDefined()
      expect(row).toContain(`\`${JSON.stringify(value)}\``)
    }
  })
})
