/*
 * The Redis Cluster key-to-slot mapping (CRC16-XMODEM of the hash tag, modulo 16384),
 * written out here so tests and the spread report can check where keys land without a
 * cluster at hand. The cluster test compares it with CLUSTER KEYSLOT.
 */

export const SLOT_COUNT = 16384;

const TABLE = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : crc << 1;
  return crc & 0xffff;
});

function crc16(data: Buffer): number {
  let crc = 0;
  for (const byte of data) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff];
  return crc;
}

/** The part of a key that picks its slot: the text in its first non-empty `{...}`, or all. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

export function keySlot(key: string): number {
  return crc16(Buffer.from(hashTagOf(key), 'utf8')) % SLOT_COUNT;
}

/** The slot ranges `redis-cli --cluster create` gives `masters` masters, first to last. */
export function defaultSlotRanges(masters: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  const per = SLOT_COUNT / masters;
  let first = 0;
  for (let i = 0; i < masters; i++) {
    const last = i === masters - 1 ? SLOT_COUNT - 1 : Math.round((i + 1) * per) - 1;
    ranges.push([first, last]);
    first = last + 1;
  }
  return ranges;
}

/** How keys spread over the masters of a cluster and over its slots. */
export interface SlotSpread {
  perMaster: number[];
  min: number;
  max: number;
  mean: number;
  stddev: number;
  distinctSlots: number;
}

/** Counts the keys each master of `ranges` would hold, and the distinct slots they use. */
export function slotSpread(keys: string[], ranges: Array<[number, number]>): SlotSpread {
  const perMaster = ranges.map(() => 0);
  const slots = new Set<number>();
  for (const key of keys) {
    const slot = keySlot(key);
    slots.add(slot);
    perMaster[ranges.findIndex(([first, last]) => slot >= first && slot <= last)]++;
  }
  const mean = keys.length / ranges.length;
  const variance = perMaster.reduce((sum, n) => sum + (n - mean) ** 2, 0) / ranges.length;
  return {
    perMaster,
    min: Math.min(...perMaster),
    max: Math.max(...perMaster),
    mean,
    stddev: Math.sqrt(variance),
    distinctSlots: slots.size,
  };
}
