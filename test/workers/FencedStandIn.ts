/**
 * A fenced stand-in: the stand-in container behind the same fence as `PooledContainer` (the same
 * `FenceKeeper` over its own storage), and, like `Container.fetch`, starting itself on a request when
 * it is stopped. So a request the fence lets through wakes a stopped container, as on the platform,
 * and one it refuses starts nothing.
 */
import type { StopReason } from "../../src/internal/fence.js"
import { isStopReason, LEASE_HEADER } from "../../src/internal/fence.js"
import * as FenceKeeper from "../../src/internal/FenceKeeper.js"
import { StandInContainer, standIn } from "./StandInContainer.js"

/** What the last admitted request looked like when it reached the container, by Durable Object id. */
export const reachedWith = new Map<string, { readonly leaseHeader: string | null }>()

let heldRequest: { readonly enter: () => void; readonly released: Promise<void> } | undefined

/**
 * The next request to any fenced stand-in waits before its fence check until the test lets it go: `entered`
 * resolves when it arrives, so a test can end its lease exactly then, with no sleeps.
 */
export const holdNextRequest = () => {
  let enter!: () => void
  let release!: () => void
  const entered = new Promise<void>((resolve) => (enter = resolve))
  heldRequest = { enter, released: new Promise<void>((resolve) => (release = resolve)) }
  return { entered, release }
}

let heldRevoke: { readonly enter: () => void; readonly released: Promise<void> } | undefined

/** The next `warmPoolRevoke` to any fenced stand-in waits until the test lets it go (`entered`: it arrived). */
export const holdNextRevoke = () => {
  let enter!: () => void
  let release!: () => void
  const entered = new Promise<void>((resolve) => (enter = resolve))
  heldRevoke = { enter, released: new Promise<void>((resolve) => (release = resolve)) }
  return { entered, release }
}

export class FencedStandIn extends StandInContainer {
  readonly #fence = FenceKeeper.make(this.ctx.storage)

  override async fetch(request: Request): Promise<Response> {
    return this.containerFetch(request)
  }

  async containerFetch(request: Request): Promise<Response> {
    const held = heldRequest
    heldRequest = undefined
    if (held !== undefined) {
      held.enter()
      await held.released
    }
    const checked = this.#fence.check(request)
    if (checked.refused !== undefined) return checked.refused
    const state = standIn.containers.get(this.ctx.id.toString())
    if (state?.status !== "healthy") await this.startAndWaitForPorts()
    reachedWith.set(this.ctx.id.toString(), { leaseHeader: checked.request.headers.get(LEASE_HEADER) })
    return super.fetch(checked.request)
  }

  override async destroy(reason?: StopReason): Promise<void> {
    if (isStopReason(reason)) this.#fence.stop(reason)
    return super.destroy()
  }

  async warmPoolRevoke(epoch: number, reason: StopReason): Promise<string> {
    const held = heldRevoke
    heldRevoke = undefined
    if (held !== undefined) {
      held.enter()
      await held.released
    }
    return this.#fence.revoke(epoch, reason)
  }
}
