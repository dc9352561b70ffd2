import { defineWorkersProject } from "@cloudflare/vitest-pool-workers/config"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Tests import the package by its public name, as users do.
const alias = { "cf-container-warm-pool": fileURLToPath(new URL("./src/index.ts", import.meta.url)) }

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node"
        }
      },
      defineWorkersProject({
        resolve: { alias },
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          poolOptions: {
            workers: {
              main: "./test/workers/worker.ts",
              singleWorker: true,
              isolatedStorage: false,
              miniflare: {
                compatibilityDate: "2026-03-01",
                compatibilityFlags: ["nodejs_compat"],
                durableObjects: {
                  WARM_POOL: { className: "WarmPool", useSQLite: true },
                  CONTAINER: { className: "StandInContainer", useSQLite: true },
                  NOT_A_NAMESPACE_HOLDER: { className: "StandInContainer", useSQLite: true }
                },
                bindings: { PLAIN_VALUE: "not a namespace" }
              }
            }
          }
        }
      })
    ]
  }
})
