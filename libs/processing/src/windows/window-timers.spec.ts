import { LineWindow } from './line-window';
import { WindowTimers } from './window-timers';

describe('WindowTimers', () => {
  const window = (lineId: string, start: number) => new LineWindow(lineId, start, 10, false);

  it('pops due windows in ascending end order and keeps the rest', () => {
    const timers = new WindowTimers();
    const starts = [50, 10, 90, 30, 70, 20, 80, 0, 60, 40];
    for (const s of starts) timers.register(window(`L${s}`, s));
    timers.register(window('Lx', 30)); // shares end 40 with L30

    const due: LineWindow[] = [];
    timers.popDue(45, due);
    expect(due.map((w) => w.end)).toEqual([10, 20, 30, 40, 40]);
    expect(due.filter((w) => w.end === 40).map((w) => w.lineId).sort()).toEqual(['L30', 'Lx']);
    expect(timers.size).toBe(6);

    const rest: LineWindow[] = [];
    timers.popDue(Number.MAX_SAFE_INTEGER, rest);
    expect(rest.map((w) => w.end)).toEqual([50, 60, 70, 80, 90, 100]);
    expect(timers.size).toBe(0);
  });

  it('pops nothing when no window is due', () => {
    const timers = new WindowTimers();
    timers.register(window('L1', 100));
    const due: LineWindow[] = [];
    timers.popDue(109, due);
    expect(due).toEqual([]);
    timers.popDue(110, due);
    expect(due).toHaveLength(1);
  });
});
