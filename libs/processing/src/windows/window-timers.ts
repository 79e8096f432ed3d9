import type { LineWindow } from './line-window';

/**
 * Event-time timers of one line: its open windows grouped by end, with a binary min-heap of
 * the distinct ends. Registering is O(log n) once per window (not per event); firing pops every
 * end at or below a threshold. Windows share ends (they are aligned), so the heap stays small.
 */
export class WindowTimers {
  private readonly heap: number[] = [];
  private readonly byEnd = new Map<number, LineWindow[]>();

  register(window: LineWindow): void {
    const bucket = this.byEnd.get(window.end);
    if (bucket !== undefined) {
      bucket.push(window);
      return;
    }
    this.byEnd.set(window.end, [window]);
    this.push(window.end);
  }

  /** Moves every window with end <= maxEnd into `out` (ascending end; order within an end unspecified). */
  popDue(maxEnd: number, out: LineWindow[]): void {
    while (this.heap.length > 0 && this.heap[0] <= maxEnd) {
      const end = this.pop();
      const bucket = this.byEnd.get(end)!;
      this.byEnd.delete(end);
      for (const window of bucket) out.push(window);
    }
  }

  get size(): number {
    let windows = 0;
    for (const bucket of this.byEnd.values()) windows += bucket.length;
    return windows;
  }

  private push(value: number): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent] <= value) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = value;
  }

  private pop(): number {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && heap[right] < heap[left] ? right : left;
        if (heap[child] >= last) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
