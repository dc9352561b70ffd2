/**
 * Node-side Docker access for the end-to-end suite: image build, a witness of what runs,
 * and cleanup. Tests run inside workerd and cannot spawn processes, so they reach this
 * through a service binding whose handler runs in the vitest Node process.
 */
import { execFile, execFileSync } from "node:child_process"
import { promisify } from "node:util"

const run = promisify(execFile)

export const IMAGE = "cf-container-warm-pool-example:e2e"
/** The example Dockerfile's LABEL: every container of the image carries it. */
export const LABEL = "dev.cf-container-warm-pool.example=session-container"

export const dockerReachable = (): boolean => {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore", timeout: 15_000 })
    return true
  } catch {
    return false
  }
}

export const removeLabelledContainers = (): number => {
  const ids = execFileSync("docker", ["ps", "-aq", "--filter", `label=${LABEL}`], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
  if (ids.length > 0) {
    try {
      execFileSync("docker", ["rm", "-f", ...ids], { stdio: "ignore" })
    } catch {
      // Removal may already be under way by workerd.
    }
  }
  return ids.length
}

export interface ContainerRow {
  readonly id: string
  readonly name: string
  readonly state: string
}

/** The service binding: GET /ps lists the example's containers; POST /kill?id= kills one. */
export const dockerWitness = async (request: Request): Promise<Response> => {
  const url = new URL(request.url)
  if (url.pathname === "/ps") {
    const { stdout } = await run("docker", ["ps", "-a", "--no-trunc", "--filter", `label=${LABEL}`, "--format", "{{json .}}"])
    const rows: Array<ContainerRow> = stdout.split("\n").filter(Boolean).map((line) => {
      const row = JSON.parse(line) as { ID: string; Names: string; State: string }
      return { id: row.ID, name: row.Names, state: row.State }
    })
    return Response.json(rows)
  }
  if (url.pathname === "/kill" && request.method === "POST") {
    await run("docker", ["kill", url.searchParams.get("id") ?? ""])
    return new Response("killed")
  }
  return new Response("not found", { status: 404 })
}
