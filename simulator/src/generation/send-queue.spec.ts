import { SendQueue } from './send-queue';

describe('SendQueue', () => {
  it('releases by send time, and in the order held when times are equal', () => {
    const queue = new SendQueue<string>();
    const times = [50, 10, 30, 10, 70, 30, 20, 10];
    times.forEach((t, i) => queue.push(t, `${t}#${i}`));
    expect(queue.peekTime()).toBe(10);
    const out: string[] = [];
    for (let next = queue.pop(); next; next = queue.pop()) out.push(next.item);
    expect(out).toEqual(['10#1', '10#3', '10#7', '20#6', '30#2', '30#5', '50#0', '70#4']);
    expect(queue.peekTime()).toBe(Infinity);
    expect(queue.size).toBe(0);
  });
});
