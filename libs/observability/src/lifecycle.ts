/**
 * A service started by the launcher (`npm start`) shuts down cleanly when the launcher goes away,
 * even if the launcher was killed and could not tell it to: the IPC channel closing is the signal.
 */
export function exitWithParent(): void {
  if (typeof process.send === 'function') {
    process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
}

/** The message a service sends the launcher once it is up (see announceStarted). */
export const STARTED_MESSAGE = { meterstream: 'started' } as const;

/**
 * Tells the launcher (over its IPC channel, if any) that this service started: the launcher
 * restarts a service that crashes after this, but stops the whole pipeline with the service's
 * message when one exits before it (a setting, a taken port, an unreadable data directory), so a
 * service that cannot start is not restarted in a loop while the rest runs half-alive.
 */
export function announceStarted(): void {
  process.send?.(STARTED_MESSAGE);
}

export function isStartedMessage(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { meterstream?: unknown }).meterstream === STARTED_MESSAGE.meterstream;
}
