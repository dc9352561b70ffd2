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

  it("documents every config option with its default", () => {
    for (const [option, value] of Object.entries(defaults)) {
      const row = readme.split("\n").find((line) => line.startsWith(`| \`${option}\` |`))
      expect(row, option).toBeDefined()
      expect(row).toContain(`\`${JSON.stringify(value)}\``)
    }
  })
})
