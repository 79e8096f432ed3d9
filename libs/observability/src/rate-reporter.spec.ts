import { startRateReporter } from './rate-reporter';

describe('startRateReporter', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('prints totals with their per-second rate and gauges as they are', () => {
    const lines: string[] = [];
    const state = { readings: 0, inFlight: 0 };
    const stop = startRateReporter('ingest', () => ({ ...state }), (l) => lines.push(l), 10_000, ['inFlight']);
    state.readings = 25_000;
    state.inFlight = 300;
    jest.advanceTimersByTime(10_000);
    state.readings = 25_050;
    jest.advanceTimersByTime(10_000);
    stop();
    jest.advanceTimersByTime(10_000);
    expect(lines).toEqual(['ingest: readings=25000 (2500/s) inFlight=300', 'ingest: readings=25050 (5.0/s) inFlight=300']);
  });
});
