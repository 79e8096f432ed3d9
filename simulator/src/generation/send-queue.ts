/**
 * Messages held back to be sent later (duplicates, out-of-order and late deliveries), ordered by
 * send time and, for equal times, by the order they were held: a binary min-heap.
 */
export class SendQueue<T> {
  private readonly heap: Array<{ sendTime: number; order: number; item: T }> = [];
  private held = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Send time of the next item, Infinity when empty. */
  peekTime(): number {
    return this.heap.length > 0 ? this.heap[0].sendTime : Infinity;
  }

  push(sendTime: number, item: T): void {
    const heap = this.heap;
    heap.push({ sendTime, order: this.held++, item });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  pop(): { sendTime: number; item: T } | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && this.before(left, smallest)) smallest = left;
        if (right < heap.length && this.before(right, smallest)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
        i = smallest;
      }
    }
    return { sendTime: top.sendTime, item: top.item };
  }

  private before(a: number, b: number): boolean {
    const x = this.heap[a];
    const y = this.heap[b];
    return x.sendTime < y.sendTime || (x.sendTime === y.sendTime && x.order < y.order);
  }
}
