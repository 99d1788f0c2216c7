import type { Redis } from 'ioredis';
import type { FileError, FileRef, FileResult, Language, RefRecord, SymbolRecord } from '../../protocol/types.js';
import { decodeJson, encodeJson } from './codec.js';
import type { Keys } from './keys.js';

/**
 * The cluster-wide result cache: one path-independent file result per (extractor version, language, content
 * sha1), shared by every run, branch, repository and host on one Redis namespace. Extraction depends on nothing
 * else, so a hit is what a parse would have produced.
 *
 * Bounded: every entry is charged its compressed size plus three copies of its key name (the key itself, its
 * sorted-set member, its size field). A store that takes the total over the budget evicts least recently used
 * entries (a hit refreshes its entry) until it is back under. Entries also expire after CACHE_TTL_MS without use.
 * Both Lua scripts run atomically, so concurrent workers and coordinators keep the books exact.
 */

export const CACHE_TTL_MS = 14 * 24 * 3600 * 1000;

interface CacheEntry {
  /** Repeats the key's parts: a value read under any other key is refused, never returned. */
  v: number;
  language: Language;
  hash: string;
  size: number;
  status: 'ok' | 'partial';
  error: FileError | null;
  symbols: SymbolRecord[];
  refs: RefRecord[];
}

const HASH_RE = /^[0-9a-f]{40}$/;

/**
 * Only outcomes decided by the content alone. Errors such as deleted, unreadable, parse-timeout or worker-crash
 * depend on the moment or the host and are never cached.
 */
export function cacheable(f: FileResult): boolean {
  if (!HASH_RE.test(f.hash)) return false;
  return (f.status === 'ok' && (f.error === null || f.error.code === 'grammar-gap')) || (f.status === 'partial' && f.error?.code === 'syntax');
}

// Shebang scripts (Redis 7): under an out-of-memory Redis they are refused whole rather than stopped halfway.
// Scores are the Redis server's clock in ms, so hosts with skewed clocks agree on what is oldest.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: lru, entry keys... ARGV: ttl ms. Returns each entry's value or nil; a hit is refreshed (TTL and LRU). */
const GET_LUA = `#!lua
${NOW}
local lru, ttl = KEYS[1], tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  local k, v = KEYS[i], false
  -- An entry the books do not know is not served: everything served can be evicted.
  if redis.call('ZSCORE', lru, k) then
    v = redis.call('GET', k)
    if v then
      redis.call('PEXPIRE', k, ttl)
      redis.call('ZADD', lru, now, k)
    end
  end
  out[i - 1] = v
end
return out`;

/**
 * KEYS: lru, sizes, total, entry keys... ARGV: ttl ms, budget bytes, values... (value i for entry key i).
 * Returns { stored, evicted, total bytes after }.
 */
const STORE_LUA = `#!lua
${NOW}
local lru, sizes, total = KEYS[1], KEYS[2], KEYS[3]
local ttl, budget = tonumber(ARGV[1]), tonumber(ARGV[2])
local function drop(k)
  local size = tonumber(redis.call('HGET', sizes, k) or '0')
  redis.call('DEL', k)
  redis.call('HDEL', sizes, k)
  redis.call('ZREM', lru, k)
  if size > 0 then redis.call('DECRBY', total, size) end
end
-- The books of entries whose TTL ran out (their keys are gone already).
for _, k in ipairs(redis.call('ZRANGEBYSCORE', lru, '-inf', '(' .. (now - ttl), 'LIMIT', 0, 1000)) do drop(k) end
local stored = 0
for i = 4, #KEYS do
  local k, v = KEYS[i], ARGV[i - 1]
  local cost = #v + 3 * #k
  if cost <= budget then
    local old = redis.call('HGET', sizes, k)
    if old then redis.call('DECRBY', total, old) end
    redis.call('SET', k, v, 'PX', ttl)
    redis.call('HSET', sizes, k, cost)
    redis.call('INCRBY', total, cost)
    redis.call('ZADD', lru, now, k)
    stored = stored + 1
  end
end
local evicted = 0
local bytes = tonumber(redis.call('GET', total) or '0')
while bytes > budget do
  local oldest = redis.call('ZRANGE', lru, 0, 0)
  if #oldest == 0 then
    -- Nothing left to evict: the total can only be stale, so start it afresh.
    redis.call('SET', total, 0)
    bytes = 0
  else
    drop(oldest[1])
    evicted = evicted + 1
    bytes = tonumber(redis.call('GET', total) or '0')
  end
end
return { stored, evicted, bytes }`;

/** Both scripts' source, for the start-up check of the commands they call (commands.ts). */
export const CACHE_SCRIPTS = [GET_LUA, STORE_LUA];

type Arg = string | Buffer | number;
interface CacheCommands {
  mcpIndexCacheGetBuffer(numKeys: number, ...args: Arg[]): Promise<(Buffer | null)[]>;
  mcpIndexCacheStore(numKeys: number, ...args: Arg[]): Promise<[number, number, number]>;
}

const defined = new WeakSet<Redis>();
function commands(redis: Redis): CacheCommands {
  if (!defined.has(redis)) {
    // ioredis runs them with EVALSHA and falls back to EVAL once per connection.
    redis.defineCommand('mcpIndexCacheGet', { lua: GET_LUA });
    redis.defineCommand('mcpIndexCacheStore', { lua: STORE_LUA });
    defined.add(redis);
  }
  return redis as unknown as CacheCommands;
}

/** One file's cache entry, encoded where the file was parsed (a pool thread), stored by its worker process. */
export interface CacheEntryBytes {
  language: Language;
  hash: string;
  value: Uint8Array;
}

/** The cache entries of a batch's cacheable results (no Redis: pool threads run this). */
export function cacheEntries(files: readonly FileResult[], extractorVersion: number): CacheEntryBytes[] {
  const out: CacheEntryBytes[] = [];
  for (const f of files) {
    if (!cacheable(f)) continue;
    const e: CacheEntry = { v: extractorVersion, language: f.language, hash: f.hash, size: f.size, status: f.status as 'ok' | 'partial', error: f.error, symbols: f.symbols, refs: f.refs };
    out.push({ language: f.language, hash: f.hash, value: encodeJson(e) });
  }
  return out;
}

export interface StoreOutcome {
  stored: number;
  evicted: number;
  /** The cache's charged bytes after this store (at most the budget). */
  bytes: number;
}

export class ResultCache {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /**
   * One round trip for a batch: the cached results of `files`, by path. Anything undecodable or not matching the
   * file's own hash, language and extractor version is a miss.
   */
  async lookup(files: readonly FileRef[], extractorVersion: number, maxFileBytes: number): Promise<Map<string, FileResult>> {
    const hits = new Map<string, FileResult>();
    if (files.length === 0) return hits;
    const keyOf = (f: FileRef) => this.keys.cache(extractorVersion, f.language, f.hash);
    const unique = [...new Set(files.map(keyOf))];
    const values = await commands(this.redis).mcpIndexCacheGetBuffer(unique.length + 1, this.keys.cacheLru, ...unique, CACHE_TTL_MS);
    const byKey = new Map(unique.map((k, i) => [k, values[i]]));
    for (const f of files) {
      const buf = byKey.get(keyOf(f));
      if (!buf) continue;
      let e: CacheEntry;
      try {
        e = decodeJson<CacheEntry>(buf);
      } catch {
        continue;
      }
      if (e.v !== extractorVersion || e.language !== f.language || e.hash !== f.hash) continue;
      if ((e.status !== 'ok' && e.status !== 'partial') || !Array.isArray(e.symbols) || !Array.isArray(e.refs)) continue;
      if (e.size > maxFileBytes) continue; // this run would record it as oversize
      hits.set(f.path, { path: f.path, hash: f.hash, size: e.size, language: f.language, status: e.status, error: e.error, symbols: e.symbols, refs: e.refs, parseMs: 0 });
    }
    return hits;
  }

  /** Stores a batch's entries (see `cacheEntries`) in one call and evicts down to `maxBytes`. */
  async store(entries: readonly CacheEntryBytes[], extractorVersion: number, maxBytes: number): Promise<StoreOutcome> {
    const byKey = new Map<string, Buffer>();
    for (const e of entries) {
      const key = this.keys.cache(extractorVersion, e.language, e.hash);
      if (!byKey.has(key)) byKey.set(key, Buffer.from(e.value.buffer, e.value.byteOffset, e.value.byteLength));
    }
    if (byKey.size === 0 || maxBytes <= 0) return { stored: 0, evicted: 0, bytes: -1 };
    const k = this.keys;
    const [stored, evicted, bytes] = await commands(this.redis).mcpIndexCacheStore(
      3 + byKey.size,
      k.cacheLru,
      k.cacheSizes,
      k.cacheBytes,
      ...byKey.keys(),
      CACHE_TTL_MS,
      maxBytes,
      ...byKey.values(),
    );
    return { stored, evicted, bytes };
  }

  /** Entries and charged bytes, for `status --redis`. */
  async stats(): Promise<{ entries: number; bytes: number }> {
    const [entries, bytes] = await Promise.all([this.redis.zcard(this.keys.cacheLru), this.redis.get(this.keys.cacheBytes)]);
    return { entries, bytes: Number(bytes ?? 0) };
  }
}
