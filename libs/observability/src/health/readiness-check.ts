/**
 * One dependency a service needs to do its work (its database, the MQTT broker, the stream): the
 * readiness endpoint (/ready) asks each. `check` resolves when the dependency is reachable and
 * rejects (or throws) with what is wrong, in words an operator can act on.
 */
export interface ReadinessCheck {
  /** The key in /ready's answer: `database`, `broker`, `stream`, `read-model`. */
  name: string;
  check(): Promise<void> | void;
}

/** A check that has not answered in this long counts as down: a hung engine is not a ready one. */
export const READINESS_TIMEOUT_MS = 3_000;

/** Runs one check with the timeout; resolves with null when up, else with the reason. */
export async function runReadinessCheck(check: ReadinessCheck, timeoutMs = READINESS_TIMEOUT_MS): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(() => check.check()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}
