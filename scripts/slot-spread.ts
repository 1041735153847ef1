/*
 * Prints how the index keys of 10,000 users spread over the three masters of a Redis
 * Cluster with the slot split `redis-cli --cluster create` makes, and over its 16384 slots.
 * Run: npm run slot-spread
 */
import { userTag } from '../lib/token-format.js';
import { defaultSlotRanges, SLOT_COUNT, slotSpread } from '../test/helpers/cluster-slot.js';

const USERS = 10_000;
const MASTERS = 3;
const ranges = defaultSlotRanges(MASTERS);

const idSets: Array<[string, string[]]> = [
  ['numeric ids 1..10000', Array.from({ length: USERS }, (_, i) => String(i + 1))],
  ['ids user-0..user-9999', Array.from({ length: USERS }, (_, i) => `user-${i}`)],
];

for (const [label, ids] of idSets) {
  const keys = ids.map((id) => `mt:{${userTag(id)}}:u:${id}`);
  const spread = slotSpread(keys, ranges);
  console.log(`${USERS} users, ${label}, index keys mt:{tag}:u:<id>, ${MASTERS} masters`);
  spread.perMaster.forEach((count, i) => {
    console.log(`  master ${i + 1} (slots ${ranges[i][0]}-${ranges[i][1]}): ${count} users`);
  });
  const percent = ((spread.stddev / spread.mean) * 100).toFixed(2);
  console.log(
    `  min ${spread.min}, max ${spread.max}, mean ${spread.mean.toFixed(1)}, ` +
      `stddev ${spread.stddev.toFixed(1)} (${percent} % of the mean)`,
  );
  console.log(`  distinct slots: ${spread.distinctSlots} of ${SLOT_COUNT}`);
}
