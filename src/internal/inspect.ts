/** How `inspect` shows a slot: pure arithmetic on its row and the time. */
import type { ContainerInfo } from "../Inspect.js"
import type { SlotView } from "./SqliteMetrics.js"

export const containerInfo = (slot: SlotView, now: number): ContainerInfo => ({
  name: slot.container,
  state: slot.state as ContainerInfo["state"],
  sessionId: slot.sessionId,
  ageMs: Math.max(0, now - slot.createdAt),
  leaseExpiresAt: slot.leaseExpiresAt,
  lastHealthCheck: slot.lastCheck,
  binding: slot.binding,
  revision: slot.revision
})
