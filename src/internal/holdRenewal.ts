/**
 * A live holder renews itself while its scope is open, so only a holder whose isolate died lapses.
 */
import type { Scope } from "effect"
import { Duration, Effect } from "effect"

/**
 * In the current scope: every `everyMs`, `renew`; stops once it answers false (the lease no longer has the
 * holder). A failed renewal is tried again next time: one lost call does not lapse a holder renewed twice
 * per lapse. Interrupted when the scope closes.
 */
export const keepHolding = <E>(renew: Effect.Effect<boolean, E>, everyMs: number): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.forkScoped(
    Effect.sleep(Duration.millis(everyMs)).pipe(
      Effect.zipRight(Effect.orElseSucceed(renew, () => true)),
      Effect.repeat({ while: (held) => held })
    )
  ))
