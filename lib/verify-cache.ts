import createDebug from 'debug';
import type { Redis } from 'ioredis';
import type { TokenInfo } from './types.js';

const debug = createDebug('passport-redis-multitokens:cache');

/** The channel Redis publishes tracking invalidations on for a RESP2 redirect connection. */
const INVALIDATE_CHANNEL = '__redis__:invalidate';
/** How often the invalidation link is pinged, so that a silent link is noticed. */
const HEARTBEAT_MS = 1000;

/** Options of the local verify cache. */
export interface VerifyCacheOptions {
  /**
   * Most tokens kept in the cache; past it, the entry cached longest ago makes room.
   * @default 10000
   */
  maxEntries?: number;
}

/** What `TokenStore.cacheStats()` reports about the local verify cache. */
export interface VerifyCacheStats {
  /** Tokens held now. */
  entries: number;
  /** True while the invalidation link is up; the cache serves nothing while it is down. */
  connected: boolean;
  /** Verifies answered from the cache. */
  hits: number;
  /** Verifies that went to Redis while the cache was on. */
  misses: number;
  /** Times the invalidation link was lost, each of which emptied the cache. */
  resets: number;
}

interface Entry {
  hash: string;
  info: TokenInfo;
  /** `performance.now()` past which the entry must not answer. */
  freshUntil: number;
}

/** Reads of one record in flight; `dirty` once the record changed while they were out. */
interface Reading {
  count: number;
  dirty: boolean;
}

/** A verify's claim to cache what it reads, taken before the read is sent. */
export interface CacheTicket {
  key: string;
  epoch: number;
  reading: Reading;
}

/**
 * A bounded in-process copy of recently verified tokens, kept true by Redis's
 * server-assisted client-side caching: a connection of its own asks Redis to broadcast
 * every change to a key under the store's prefix (`CLIENT TRACKING on REDIRECT <self>
 * BCAST PREFIX <prefix>`) and drops the entries named. Broadcast mode does not depend on
 * which connection read a key, or on whether Redis tracks reads made inside scripts.
 *
 * Whenever that link is down, reconnecting or silent for longer than `timeout`, the cache
 * empties itself and serves nothing until Redis tracks again.
 */
export class VerifyCache {
  readonly maxEntries: number;

  readonly #subscriber: Redis;
  readonly #keyPrefix: string;
  readonly #clientPrefix: string;
  readonly #timeout: number;
  readonly #entries = new Map<string, Entry>();
  readonly #reading = new Map<string, Reading>();
  readonly #heartbeat: NodeJS.Timeout;
  #live = false;
  #epoch = 0;
  #lastPong = 0;
  #closed = false;
  #hits = 0;
  #misses = 0;
  #resets = 0;

  /**
   * @param source the store's connection; the cache opens a duplicate of it
   * @param keyPrefix the store's key prefix
   * @param timeout ms the link may stay silent before the cache empties itself
   */
  constructor(source: Redis, keyPrefix: string, maxEntries: number, timeout: number) {
    this.maxEntries = maxEntries;
    this.#timeout = timeout;
    this.#keyPrefix = keyPrefix;
    // Keys in invalidation messages carry an ioredis `keyPrefix` the store never sees.
    this.#clientPrefix = source.options.keyPrefix ?? '';
    this.#subscriber = source.duplicate({
      protocol: 2,
      autoResubscribe: false,
      lazyConnect: false,
      enableOfflineQueue: true,
      connectionName: 'passport-redis-multitokens:cache',
    });
    this.#subscriber.on('error', (err: Error) => debug('invalidation link: %s', err.message));
    this.#subscriber.on('ready', () => void this.#track());
    for (const event of ['close', 'end', 'reconnecting']) {
      this.#subscriber.on(event, () => this.#lose(event));
    }
    this.#subscriber.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() === INVALIDATE_CHANNEL) this.#invalidate(message);
    });
    this.#heartbeat = setInterval(() => this.#beat(), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /** A live copy of the token's info when the cache holds it fresh under this hash. */
  get(key: string, hash: string): TokenInfo | undefined {
    if (!this.#live) return undefined;
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.hash !== hash) {
      this.#misses++;
      return undefined;
    }
    if (performance.now() >= entry.freshUntil) {
      this.#entries.delete(key);
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return copyInfo(entry.info);
  }

  /** Registers a read of `key` about to be sent; `undefined` when nothing may be cached. */
  begin(key: string): CacheTicket | undefined {
    if (!this.#live) return undefined;
    let reading = this.#reading.get(key);
    if (reading === undefined) {
      reading = { count: 0, dirty: false };
      this.#reading.set(key, reading);
    }
    reading.count++;
    return { key, epoch: this.#epoch, reading };
  }

  /**
   * Ends a read. Keeps `info` for `freshForMs` unless the record changed, the link was lost
   * since `begin`, or there is nothing worth keeping.
   */
  settle(ticket: CacheTicket, hash: string, info: TokenInfo | null, freshForMs: number): void {
    const { key, reading } = ticket;
    if (--reading.count === 0 && this.#reading.get(key) === reading) this.#reading.delete(key);
    if (info === null || freshForMs <= 0 || reading.dirty) return;
    if (!this.#live || ticket.epoch !== this.#epoch) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, {
      hash,
      info: copyInfo(info),
      freshUntil: performance.now() + freshForMs,
    });
  }

  /** Drops a record this process changed itself, without waiting for Redis to say so. */
  forget(key: string): void {
    this.#entries.delete(key);
    const reading = this.#reading.get(key);
    if (reading !== undefined) reading.dirty = true;
  }

  stats(): VerifyCacheStats {
    return {
      entries: this.#entries.size,
      connected: this.#live,
      hits: this.#hits,
      misses: this.#misses,
      resets: this.#resets,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#lose('close');
    await this.#subscriber.quit().catch(() => this.#subscriber.disconnect());
  }

  /** Turns tracking on for this connection, then listens; the cache serves once both hold. */
  async #track(): Promise<void> {
    const epoch = this.#epoch;
    try {
      const id = await this.#subscriber.client('ID');
      await this.#subscriber.call(
        'CLIENT',
        'TRACKING',
        'on',
        'REDIRECT',
        String(id),
        'BCAST',
        'PREFIX',
        this.#clientPrefix + this.#keyPrefix,
      );
      await this.#subscriber.subscribe(INVALIDATE_CHANNEL);
    } catch (err) {
      debug('could not turn tracking on: %s', (err as Error).message);
      if (!this.#closed) this.#subscriber.disconnect(true);
      return;
    }
    if (this.#closed || epoch !== this.#epoch || this.#subscriber.status !== 'ready') return;
    this.#lastPong = performance.now();
    this.#live = true;
    debug('tracking keys under %s', this.#keyPrefix);
  }

  #lose(why: string): void {
    if (this.#live) {
      this.#resets++;
      debug('invalidation link lost (%s): cache emptied', why);
    }
    this.#live = false;
    this.#clear();
  }

  /** Drops every entry, and every read in flight loses its claim to be cached. */
  #clear(): void {
    this.#epoch++;
    for (const reading of this.#reading.values()) reading.dirty = true;
    this.#reading.clear();
    this.#entries.clear();
  }

  #invalidate(message: unknown): void {
    // A null list means Redis dropped everything at once (FLUSHALL, FLUSHDB).
    if (!Array.isArray(message)) {
      this.#clear();
      return;
    }
    for (const raw of message) {
      let key = String(raw);
      if (this.#clientPrefix !== '' && key.startsWith(this.#clientPrefix)) {
        key = key.slice(this.#clientPrefix.length);
      }
      this.forget(key);
    }
  }

  #beat(): void {
    if (!this.#live) return;
    if (performance.now() - this.#lastPong > this.#timeout + HEARTBEAT_MS) {
      this.#lose('silent');
      this.#subscriber.disconnect(true);
      return;
    }
    this.#subscriber.ping().then(
      () => {
        this.#lastPong = performance.now();
      },
      () => {},
    );
  }
}

/** A copy the caller may change without touching the cache. */
function copyInfo(info: TokenInfo): TokenInfo {
  return {
    ...info,
    createdAt: new Date(info.createdAt.getTime()),
    lastUsedAt: new Date(info.lastUsedAt.getTime()),
    expiresAt: info.expiresAt === null ? null : new Date(info.expiresAt.getTime()),
    meta: { ...info.meta },
    scope: [...info.scope],
  };
}
