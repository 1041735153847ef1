import { expect } from 'chai';
import { newTokenId, userTag } from '../lib/token-format.js';
import { defaultSlotRanges, keySlot, SLOT_COUNT, slotSpread } from './helpers/index.js';

describe('how users spread over a Redis Cluster', () => {
  const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

  it('spreads the index keys of 10,000 users evenly over three masters', () => {
    const spread = slotSpread(
      users.map((id) => `mt:{${userTag(id)}}:u:${id}`),
      defaultSlotRanges(3),
    );
    for (const count of spread.perMaster)
      expect(count).to.be.closeTo(spread.mean, spread.mean * 0.05);
    // Uniform slots would give 16384 * (1 - e^(-10000/16384)), about 7484 distinct ones.
    const uniform = SLOT_COUNT * (1 - Math.exp(-users.length / SLOT_COUNT));
    expect(spread.distinctSlots).to.be.within(uniform * 0.95, uniform * 1.05);
  });

  it("puts a user's index and every token record in one slot, braces in the id or not", () => {
    const ids = [...users.slice(0, 100), '{alice}', 'a{b}c', '}{', '{}', '{{x}}', 'u}{v'];
    for (const id of ids) {
      const tag = userTag(id);
      const slots = new Set([keySlot(`mt:{${tag}}:u:${id}`)]);
      for (let i = 0; i < 5; i++) slots.add(keySlot(`mt:{${tag}}:t:${newTokenId()}`));
      expect(slots.size).to.equal(1);
    }
  });
});
