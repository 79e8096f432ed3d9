/**
 * A service started by the launcher (`npm start`) shuts down cleanly when the launcher goes away,
 * even if the launcher was killed and could not tell it to: the IPC channel closing is the signal.
 */
export function exitWithParent(): void {
  if (typeof process.send === 'function') {
    process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
}
