import { notifyContainerStopped, PooledContainer } from "cf-container-warm-pool"

interface Env {
  WARM_POOL: DurableObjectNamespace
}

export class MyContainer extends PooledContainer<Env> {
  override defaultPort = 8080
  override async onStop() {
    // `name` is the pool's `config.name`; leave it out for the default pool.
    await notifyContainerStopped(this.env.WARM_POOL, this.ctx, { name: "default" }).catch(() => false)
  }
}
