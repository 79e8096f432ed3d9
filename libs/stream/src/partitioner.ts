/**
 * Kafka's default partitioner (murmur2 of the key, positive, modulo the partition count), so a
 * line lands in the same partition number on the embedded log as on Kafka.
 */
export function murmur2(key: string): number {
  const data = Buffer.from(key, 'utf8');
  const length = data.length;
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  let h = seed ^ length;
  let length4 = Math.floor(length / 4);
  let i = 0;
  while (length4-- > 0) {
    let k = (data[i] & 0xff) | ((data[i + 1] & 0xff) << 8) | ((data[i + 2] & 0xff) << 16) | ((data[i + 3] & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
    i += 4;
  }
  const tail = length % 4;
  if (tail === 3) h ^= (data[i + 2] & 0xff) << 16;
  if (tail >= 2) h ^= (data[i + 1] & 0xff) << 8;
  if (tail >= 1) {
    h ^= data[i] & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

export function partitionForKey(key: string, partitionCount: number): number {
  return (murmur2(key) & 0x7fffffff) % partitionCount;
}
