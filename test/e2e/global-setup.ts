import { execFileSync } from "node:child_process"
import type { TestProject } from "vitest/node"
import { IMAGE, removeLabelledContainers } from "./docker.js"

// vitest-pool-workers runs containers but does not build images: build the example's here.
export default function setup(project: TestProject) {
  // Leftovers from a killed run would be adopted by Durable Objects of the same id.
  removeLabelledContainers()
  execFileSync("docker", ["build", "-q", "-t", IMAGE, "example/container"], { stdio: ["ignore", "ignore", "inherit"] })
  project.provide("e2eImage", IMAGE)
  // workerd removes its containers only on a clean shutdown, which miniflare does not always get.
  process.once("exit", () => removeLabelledContainers())
}

declare module "vitest" {
  export interface ProvidedContext {
    e2eImage: string
  }
}
