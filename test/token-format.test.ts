import { expect } from 'chai';
import {
  formatToken,
  hashToken,
  newTokenId,
  parseToken,
  randomBase62,
  userTag,
} from '../lib/token-format.js';

describe('token format', () => {
  const tag = userTag('alice');

  it('makes tokens of a fixed length with the prefix and URL-safe characters only', () => {
    const token = formatToken('mt_', tag, newTokenId());
    expect(token).to.have.length(66);
    expect(token).to.match(/^mt_[0-9A-Za-z]{63}$/);
    expect(encodeURIComponent(token)).to.equal(token);
  });

  it('never repeats a token in 10,000 draws', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(formatToken('mt_', tag, newTokenId()));
    expect(seen.size).to.equal(10_000);
  });

  it('draws each base62 character about equally often', () => {
    const counts = new Map<string, number>();
    const sample = randomBase62(62 * 2000);
    for (const char of sample) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).to.equal(62);
    for (const count of counts.values()) expect(count).to.be.within(1700, 2300);
  });

  it('parses its own tokens back to the tag and id', () => {
    const id = newTokenId();
    expect(parseToken('mt_', formatToken('mt_', tag, id))).to.deep.equal({ tag, id });
  });

  it('rejects a token with any one character changed, by its checksum', () => {
    const token = formatToken('mt_', tag, newTokenId());
    for (let i = 3; i < token.length; i++) {
      const swapped = token[i] === 'a' ? 'b' : 'a';
      const typo = token.slice(0, i) + swapped + token.slice(i + 1);
      expect(parseToken('mt_', typo), `change at ${i}`).to.equal(null);
    }
  });

  it('rejects other prefixes, lengths and characters', () => {
    const token = formatToken('mt_', tag, newTokenId());
    expect(parseToken('ab_', token)).to.equal(null);
    expect(parseToken('mt_', token.slice(0, -1))).to.equal(null);
    expect(parseToken('mt_', `${token}x`)).to.equal(null);
    expect(parseToken('mt_', `${token.slice(0, 20)}-${token.slice(21)}`)).to.equal(null);
    expect(parseToken('mt_', 'mt_')).to.equal(null);
  });

  it('gives one user the same tag every time and spreads users over many tags', () => {
    expect(userTag('alice')).to.equal(userTag('alice'));
    const tags = new Set(Array.from({ length: 1000 }, (_, i) => userTag(`user-${i}`)));
    expect(tags.size).to.be.greaterThan(990);
  });

  it('hashes with SHA-256, or with HMAC-SHA-256 under a server key', () => {
    const token = formatToken('mt_', tag, newTokenId());
    const plain = hashToken(token);
    const keyed = hashToken(token, Buffer.from('k'.repeat(32)));
    expect(plain).to.have.length(32);
    expect(keyed).to.have.length(32);
    expect(plain.equals(keyed)).to.equal(false);
    expect(hashToken(token).equals(plain)).to.equal(true);
  });
});
