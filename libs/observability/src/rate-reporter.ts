/**
 * Logs a one-line status every interval with per-second rates of the given counters, so a
 * person watching `npm start` sees the pipeline move (and sees it stall).
 */
export function startRateReporter(
  label: string,
  read: () => Record<string, number>,
  log: (line: string) => void,
  intervalMs = 10_000,
  /** Values that are levels (in flight, open windows), not running totals: shown without a rate. */
  gauges: readonly string[] = [],
): () => void {
  let previous = read();
  let previousAt = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    const current = read();
    const seconds = (now - previousAt) / 1000;
    const parts = Object.entries(current).map(([name, value]) => {
      if (gauges.includes(name)) return `${name}=${value}`;
      const rate = (value - (previous[name] ?? 0)) / seconds;
      return `${name}=${value} (${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s)`;
    });
    log(`${label}: ${parts.join(' ')}`);
    previous = current;
    previousAt = now;
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
