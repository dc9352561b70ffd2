import { defineWorkersProject } from "@cloudflare/vitest-pool-workers/config"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"
import { dockerReachable, dockerWitness, IMAGE } from "./test/e2e/docker.js"

// Tests import the package by its public name, as users do.
const alias = { "cf-container-warm-pool": fileURLToPath(new URL("./src/index.ts", import.meta.url)) }

// Both workerd projects: one Worker whose Durable Objects share the test isolate, with storage kept
// across tests (each test uses its own pool name instead).
const workerd = { singleWorker: true, isolatedStorage: false } as const
const runtime = { compatibilityDate: "2026-03-01", compatibilityFlags: ["nodejs_compat"] }

// The end-to-end suite needs a Docker engine. Without one it is reported as skipped,
// unless REQUIRE_DOCKER=1 (as in CI), which makes a missing engine an error.
const withDocker = dockerReachable()
if (!withDocker && process.env.REQUIRE_DOCKER === "1") {
  throw new Error("REQUIRE_DOCKER=1 but no Docker engine answers `docker info`: run scripts/dev-setup.sh first")
}

if (!withDocker) {
  console.warn("\n[e2e] SKIPPED: no Docker engine answers `docker info`. Run scripts/dev-setup.sh to run real containers.\n")
}

const e2e = withDocker
  ? defineWorkersProject({
    resolve: { alias },
    test: {
      name: "e2e",
      include: ["test/e2e/**/*.e2e.test.ts"],
      globalSetup: ["./test/e2e/global-setup.ts"],
      testTimeout: 90_000,
      hookTimeout: 90_000,
      poolOptions: {
        workers: {
          ...workerd,
          main: "./example/src/index.ts",
          miniflare: {
            ...runtime,
            durableObjects: {
              WARM_POOL: { className: "WarmPool", useSQLite: true },
              CONTAINER: { className: "SessionContainer", useSQLite: true, container: { imageName: IMAGE } }
            },
            bindings: { POOL_MIN_CONTAINERS: "1", POOL_MAX_CONTAINERS: "3" },
            serviceBindings: { DOCKER: dockerWitness },
            containerEngine: {
              localDocker: {
                socketPath: "unix:///var/run/docker.sock",
                // Only outbound interception would run it; any local image will do.
                containerEgressInterceptorImage: process.env.MINIFLARE_CONTAINER_EGRESS_IMAGE ?? "busybox:1.36"
              }
            }
          }
        }
      }
    }
  })
  : { test: { name: "e2e", include: ["test/e2e/docker-unavailable.test.ts"], environment: "node" } }

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
          setupFiles: ["./test/workers/setup.ts"],
          // Storms of 1,000 calls run on a shared 2-core machine: a bound for hangs, not a speed test.
          testTimeout: 30_000,
          // Stand-ins are shared by every pool in the isolate, and a loaded CI machine can let one pool's alarm
          // touch another test's count: a failure is retried, so a deterministic bug still fails every try.
          retry: 2,
          poolOptions: {
            workers: {
              ...workerd,
              main: "./test/workers/worker.ts",
              miniflare: {
                ...runtime,
                durableObjects: {
                  WARM_POOL: { className: "WarmPool", useSQLite: true },
                  CONTAINER: { className: "StandInContainer", useSQLite: true },
                  FENCED: { className: "FencedStandIn", useSQLite: true },
                  NOT_A_NAMESPACE_HOLDER: { className: "StandInContainer", useSQLite: true },
                  TRACED_POOL: { className: "TracedWarmPool", useSQLite: true }
                },
                bindings: { PLAIN_VALUE: "not a namespace" }
              }
            }
          }
        }
      }),
      e2e,
      {
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          // After the other projects: the e2e suite owns the example's containers while it runs.
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 300_000
        }
      }
    ]
  }
})
