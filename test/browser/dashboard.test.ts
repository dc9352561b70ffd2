/**
 * The dashboard in a real browser: Debian's chromium-headless-shell driven by playwright-core, against the
 * example Worker under `wrangler dev` with real containers. Without Docker or the browser the suite is
 * skipped, unless REQUIRE_BROWSER=1 (as in CI), which makes either missing an error.
 */
import { existsSync, mkdirSync } from "node:fs"
import type { Browser, Page } from "playwright-core"
import { chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { dockerReachable } from "../e2e/docker.js"
import { type RunningWorker, startExampleWorker } from "./exampleWorker.js"

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium-headless-shell"
const missing = [
  ...(existsSync(CHROMIUM) ? [] : [`no browser at ${CHROMIUM} (apt-get install -y chromium-headless-shell)`]),
  ...(dockerReachable() ? [] : ["no Docker engine answers `docker info` (run scripts/dev-setup.sh)"])
]
if (missing.length > 0 && process.env.REQUIRE_BROWSER === "1") {
  throw new Error(`REQUIRE_BROWSER=1 but ${missing.join("; ")}`)
}

/** Where the README's screenshot goes: docs/ when asked to update it, else a scratch copy. */
const screenshotPath = process.env.UPDATE_SCREENSHOT === "1"
  ? new URL("../../docs/dashboard.png", import.meta.url).pathname
  : new URL("../../.tmp/dashboard.png", import.meta.url).pathname

interface Stats {
  readonly warm: number
  readonly acquired: number
  readonly warming: number
  readonly total: number
  readonly stopping: number
}

describe.skipIf(missing.length > 0)("dashboard in a real browser", () => {
  let worker: RunningWorker
  let browser: Browser
  let page: Page
  const problems: Array<string> = []

  const stats = async (): Promise<Stats> => (await fetch(`${worker.base}/stats`)).json() as Promise<Stats>
  const shown = async (name: keyof Stats) => Number(await page.locator(`[data-stat="${name}"]`).textContent())
  const points = async () => Number(await page.locator("#chart").getAttribute("data-points"))
  /** Nothing starting or stopping: counts hold still long enough to compare. */
  const settled = async () => {
    await expect.poll(async () => {
      const s = await stats()
      return s.warming + s.stopping
    }, { timeout: 60_000, interval: 250 }).toBe(0)
  }

  beforeAll(async () => {
    worker = await startExampleWorker(240_000)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] })
    page = await browser.newPage({ viewport: { width: 1280, height: 760 } })
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`)
    })
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
    page.on("requestfailed", (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`))
    page.on("response", (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`)
    })
    // A warm pool before the page opens, so the counts are worth comparing.
    await fetch(`${worker.base}/warmup`, { method: "POST" })
  }, 300_000)

  afterAll(async () => {
    await browser?.close()
    if (worker !== undefined) {
      await fetch(`${worker.base}/shutdown`, { method: "POST" }).catch(() => undefined)
      await worker.stop()
    }
  }, 60_000)

  it("loads with no console errors and no failed loads, and each data-stat equals /stats", async () => {
    await settled()
    await page.goto(`${worker.base}/dashboard`)
    await expect.poll(() => shown("total"), { timeout: 5_000 }).not.toBeNaN()
    for (const name of ["warm", "acquired", "warming", "total"] as const) {
      await expect.poll(async () => [await shown(name), (await stats())[name]], { timeout: 3_000 })
        .toSatisfy(([onPage, fromApi]) => onPage === fromApi)
    }
    expect((await stats()).warm).toBeGreaterThan(0)
    expect(problems).toEqual([])
  })

  it("new session raises acquired within 3 s, and the chart gains points", async () => {
    const before = await shown("acquired")
    const drawn = await points()
    await page.locator('[data-action="new-session"]').click()
    await expect.poll(() => shown("acquired"), { timeout: 3_000, interval: 100 }).toBe(before + 1)
    await expect.poll(points, { timeout: 5_000 }).toBeGreaterThan(drawn)
    await expect.poll(() => page.locator('[data-action="release"]').count(), { timeout: 3_000 }).toBeGreaterThan(0)
  })

  it("takes the screenshot the README shows", async () => {
    await settled()
    await expect.poll(points, { timeout: 30_000 }).toBeGreaterThanOrEqual(20)
    mkdirSync(new URL(".", `file://${screenshotPath}`).pathname, { recursive: true })
    await page.screenshot({ path: screenshotPath, fullPage: true })
  })

  it("release on a row lowers acquired; warmup raises the pool's total", async () => {
    await settled()
    const acquired = await shown("acquired")
    await page.locator('[data-action="release"]').first().click()
    await expect.poll(() => shown("acquired"), { timeout: 3_000, interval: 100 }).toBe(acquired - 1)
    await settled()
    const total = (await stats()).total
    await page.locator('[data-action="warmup"]').click()
    await expect.poll(() => shown("total"), { timeout: 30_000, interval: 100 }).toBe(total + 1)
  })

  it("shutdown asks first: dismissed, nothing stops; accepted, every container goes", async () => {
    await settled()
    const total = await shown("total")
    expect(total).toBeGreaterThan(0)
    page.once("dialog", (dialog) => void dialog.dismiss())
    await page.locator('[data-action="shutdown"]').click()
    expect((await stats()).total).toBe(total)
    page.once("dialog", (dialog) => void dialog.accept())
    await page.locator('[data-action="shutdown"]').click()
    await expect.poll(() => shown("total"), { timeout: 30_000, interval: 200 }).toBe(0)
    expect(problems).toEqual([])
  })
})
