/**
 * `PooledContainer`: a `Container` that serves only the lease the pool currently holds for it.
 * Extend it instead of `Container`. A request through a stub kept past its lease (by a caller, a cache
 * or a retry, after a release, an expiry, a shutdown or a dead-container drop), or through a stub of
 * a session the container no longer serves, gets `410 Gone` with a JSON body `{ reason, message }`,
 * and starts nothing. See `internal/fence.ts` for how tokens and epochs work.
 */
import { Container } from "@cloudflare/containers"
import type { FenceReason, StopReason } from "./internal/fence.js"
import { FENCE_MARK, fenceMessages, gone, isStopReason } from "./internal/fence.js"
import * as FenceKeeper from "./internal/FenceKeeper.js"

type StartAndWaitForPortsArgs = Parameters<Container["startAndWaitForPorts"]>

export class PooledContainer<Env = Cloudflare.Env> extends Container<Env> {
  readonly #fence = FenceKeeper.make(this.ctx.storage)

  /**
   * A request your class makes to its own container (a health ping in `onStart`, say), which carries no lease
   * token: it passes unless the pool has stopped the container. Static, so it is no RPC method a stub could call.
   */
  static ownContainerFetch(
    container: PooledContainer<any>,
    ...args: Parameters<Container["containerFetch"]>
  ): Promise<Response> {
    const record = container.#fence.record()
    if (record?.final === true) return Promise.resolve(gone(record.reason ?? "stopped"))
    return Container.prototype.containerFetch.apply(container, args)
  }

  /** The fence as this container holds it: its lease epoch, whether a lease holds it, and why not (for logs). */
  warmPoolFence(): { readonly epoch: number; readonly leased: boolean; readonly reason: FenceReason | null } | undefined {
    const record = this.#fence.record()
    return record === undefined ? undefined : { epoch: record.epoch, leased: record.leased, reason: record.reason }
  }

  /**
   * Every request, `fetch` included (it forwards here), passes the fence first: a refused one gets the `410`
   * before anything could start the container.
   */
  override async containerFetch(
    requestOrUrl: Request | string | URL,
    portOrInit?: number | RequestInit,
    portParam?: number
  ): Promise<Response> {
    const isRequest = requestOrUrl instanceof Request
    const request = isRequest
      ? requestOrUrl
      : new Request(requestOrUrl, typeof portOrInit === "object" ? portOrInit : undefined)
    const port = typeof portOrInit === "number" ? portOrInit : isRequest ? undefined : portParam
    const checked = this.#fence.check(request)
    if (checked.refused !== undefined) return checked.refused
    return port === undefined ? super.containerFetch(checked.request) : super.containerFetch(checked.request, port)
  }

  /** Refused once the pool stopped this container: a stopped container never runs again. */
  override async startAndWaitForPorts(...args: StartAndWaitForPortsArgs): Promise<void> {
    this.#refuseIfStopped()
    return super.startAndWaitForPorts(...args)
  }

  override async start(...args: Parameters<Container["start"]>): Promise<void> {
    this.#refuseIfStopped()
    return super.start(...args)
  }

  /**
   * Destroys the container. With a reason (the pool always gives one when it stops a container for good),
   * the fence closes first: no request is admitted again, whatever becomes of the destroy.
   */
  override async destroy(reason?: StopReason): Promise<void> {
    if (isStopReason(reason)) this.#fence.stop(reason)
    return super.destroy()
  }

  /** RPC from the pool: a lease ended at `epoch`, and the container goes back to the warm set. */
  warmPoolRevoke(epoch: number, reason: StopReason): typeof FENCE_MARK {
    return this.#fence.revoke(epoch, reason)
  }

  #refuseIfStopped(): void {
    const record = this.#fence.record()
    if (record?.final === true) {
      throw new Error(`warm pool fence: not starting: ${fenceMessages[record.reason ?? "stopped"]}`)
    }
  }
}
