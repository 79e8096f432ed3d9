/**
 * Runs async sections one at a time, in call order. The processor holds it for a whole poll
 * (read → process → write → maybe checkpoint) and for every membership change, so a rebalance
 * never sees a batch half done: revoked() waits for the batch in flight, as the port requires.
 */
export class SerialLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section);
    // The next section waits for this one whether it succeeded or not.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
