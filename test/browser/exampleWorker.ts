/**
 * Runs the example Worker as a developer does, with `npm run dev` (build, Docker setup, `wrangler dev`)
 * on a free port and a fresh state directory, and stops it with its containers afterwards.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

export interface RunningWorker {
  readonly base: string
  readonly log: () => string
  readonly stop: () => Promise<void>
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", () => resolve())))

export const startExampleWorker = async (readyWithinMs: number): Promise<RunningWorker> => {
  const port = await freePort()
  const state = mkdtempSync(join(tmpdir(), "warm-pool-dashboard-"))
  const child = spawn("npm", ["run", "dev", "--", "--persist-to", state], {
    cwd: new URL("../../example/", import.meta.url).pathname,
    env: { ...process.env, PORT: String(port), WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  let log = ""
  child.stdout!.on("data", (chunk) => (log += chunk))
  child.stderr!.on("data", (chunk) => (log += chunk))
  const base = `http://127.0.0.1:${port}`
  const stop = async () => {
    // SIGINT lets wrangler remove its containers; the whole group goes, npm and dev.sh included.
    try {
      process.kill(-child.pid!, "SIGINT")
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        // already gone
      }
    }, 15_000)
    await exited(child)
    clearTimeout(timer)
    rmSync(state, { recursive: true, force: true })
  }
  const deadline = Date.now() + readyWithinMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    try {
      if ((await fetch(`${base}/stats`)).ok) return { base, log: () => log, stop }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  await stop()
  throw new Error(`the example Worker did not answer /stats within ${readyWithinMs} ms:\n${log.slice(-3000)}`)
}
