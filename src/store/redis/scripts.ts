/**
 * The Lua scripts the Redis store runs, their SHAs, and the pure encoders: `encodeApply` turns an
 * `apply` into the apply script's KEYS and arguments, `packArgs` packs those arguments into its
 * ARGV, `hashChunks` splits a staged hash into HSETs.
 * Nothing here talks to Redis, so the encoding is tested on its own (test/store/scripts.test.ts)
 * as well as through the store battery.
 */
import { createHash } from 'node:crypto';
import type { ApplyOptions, WriteOp } from '../store.js';
import { checkStreamValue, runsOf } from '../streamRuns.js';

export interface Script {
  readonly text: string;
  /** EVALSHA runs a script by this, so the text crosses the network only when a server lacks it. */
  readonly sha: string;
}

const script = (text: string): Script => ({ text, sha: createHash('sha1').update(text).digest('hex') });

/**
 * `apply`: checks the server's clock against the deadline, then the guards, then performs every
 * operation. Its arguments (see `encodeApply`): deadline, guard count, the guards, operation
 * count, the operations; keys are referenced by their 1-based index in KEYS. They travel as one
 * MessagePack array in ARGV[1] (`packArgs`), unpacked by Redis's own cmsgpack.
 */
export const APPLY = script(`#!lua
local args = cmsgpack.unpack(ARGV[1])
-- a stream id's two parts: milliseconds (as text) and sequence number
local function streamId(id)
  local dash = string.find(id, '-', 1, true)
  return string.sub(id, 1, dash - 1), tonumber(string.sub(id, dash + 1))
end
local deadline = tonumber(args[1])
if deadline > 0 then
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline then return -1 end
end
local i = 3
for g = 1, tonumber(args[2]) do
  local kind, key = args[i], KEYS[tonumber(args[i + 1])]
  i = i + 2
  local current
  if kind == 'h' then
    current = redis.call('HGET', key, args[i])
    i = i + 1
  else
    current = redis.call('GET', key)
  end
  if args[i] == '1' then
    if current ~= args[i + 1] then return 0 end
    i = i + 2
  else
    if current then return 0 end
    i = i + 1
  end
end
local variadic = { hset = 'HSET', hdel = 'HDEL', sadd = 'SADD', srem = 'SREM' }
local nops = tonumber(args[i])
i = i + 1
for o = 1, nops do
  local code, key, n = args[i], KEYS[tonumber(args[i + 1])], tonumber(args[i + 2])
  i = i + 3
  if code == 'set' then
    local ttl = args[i + 1]
    if ttl == 'keep' then redis.call('SET', key, args[i], 'KEEPTTL')
    elseif ttl ~= '0' then redis.call('SET', key, args[i], 'PX', ttl)
    else redis.call('SET', key, args[i]) end
  elseif code == 'del' then
    redis.call('DEL', key)
  elseif code == 'dels' then
    -- a run of deletes (a tenant's sessions) as one DEL per 1000 keys, not one command per key
    local names = {}
    for j = i, i + n - 1 do names[#names + 1] = KEYS[tonumber(args[j])] end
    for j = 1, #names, 1000 do redis.call('DEL', unpack(names, j, math.min(j + 999, #names))) end
  elseif code == 'incr' then
    redis.call('INCR', key)
  elseif code == 'pexpire' then
    redis.call('PEXPIRE', key, args[i])
  elseif code == 'xadd' then
    -- appends to one stream: pairs of a value count and the values joined by newlines, each pair
    -- one entry under the last of as many consecutive ids (store/streamRuns.ts)
    local ms, seq -- the stream's last id, once known
    for j = i, i + n - 1, 2 do
      local count = tonumber(args[j])
      if count == 1 then
        ms, seq = streamId(redis.call('XADD', key, '*', 'e', args[j + 1]))
      else
        if not ms then
          -- the id the next XADD * would take: a placeholder takes it and gives it up
          local id = redis.call('XADD', key, '*', 'e', '')
          redis.call('XDEL', key, id)
          ms, seq = streamId(id)
        end
        seq = seq + count
        redis.call('XADD', key, ms .. '-' .. string.format('%d', seq), 'e', args[j + 1])
      end
    end
  elseif code == 'xtrim' then
    redis.call('XTRIM', key, 'MINID', args[i])
  elseif code == 'move' then
    local to = KEYS[tonumber(args[i])]
    if redis.call('EXISTS', key) == 1 then
      redis.call('RENAME', key, to)
      redis.call('PERSIST', to)
    else
      redis.call('DEL', to)
    end
  else
    -- unpack is bounded by Lua's C stack; 1000 arguments per call stays far below it.
    local last = i + n - 1
    local j = i
    while j <= last do
      local e = math.min(j + 999, last)
      redis.call(variadic[code], key, unpack(args, j, e))
      j = e + 1
    end
  end
  i = i + n
end
return 1
`);

/**
 * `readRecordWithRefs`: KEYS[1] is the JSON record, KEYS[2] the hash, KEYS[3..] the other
 * values' keys; ARGV[1] is the property path's length n, ARGV[2..n+1] the path, then one entry
 * per other value: `s` (GET) or `h` and a field name (HGET). Replies { record, its PTTL, the
 * hash field, others... }.
 *
 * A record that opens with the path, each key first in its object (`{"login":{"userName":"…`,
 * as sessions are written: sso/sessionCookie.ts), has its string read there, when it holds no
 * escape: in JSON text a key's quotes cannot be inside a string, so that prefix can only be the
 * path. Any other record is decoded. A session (731 B after a sign-in in the bench world) read
 * there costs Redis 11.5 µs of CPU per call against 21.7 decoded, CPU the relay and its clients
 * share.
 */
export const READ_RECORD_WITH_REFS = script(`#!lua flags=no-writes
local n = tonumber(ARGV[1])
local v = redis.call('GET', KEYS[1])
local out = { v, -2, false }
if v then
  out[2] = redis.call('PTTL', KEYS[1])
  local at = nil
  local prefix = '{"' .. table.concat(ARGV, '":{"', 2, n + 1) .. '":"'
  if n > 0 and string.sub(v, 1, #prefix) == prefix then
    local close = string.find(v, '"', #prefix + 1, true)
    if close then
      at = string.sub(v, #prefix + 1, close - 1)
      if string.find(at, '\\\\', 1, true) then at = nil end
    end
  end
  if at == nil and n > 0 then
    local ok, decoded = pcall(cjson.decode, v)
    if ok then
      at = decoded
      for i = 2, n + 1 do
        if type(at) == 'table' then at = at[ARGV[i]] else at = nil end
      end
    end
  end
  if type(at) == 'string' then out[3] = redis.call('HGET', KEYS[2], at) end
end
for i = 3, #KEYS do
  local ref = ARGV[n + i - 1]
  if ref == 's' then out[#out + 1] = redis.call('GET', KEYS[i])
  else out[#out + 1] = redis.call('HGET', KEYS[i], string.sub(ref, 2)) end
end
return out
`);

/**
 * Encodes guards and operations as the apply script's KEYS and arguments. `serverDeadline` is the
 * deadline by the server's clock (epoch ms), 0 for none.
 */
export function encodeApply(
  ops: readonly WriteOp[],
  options: ApplyOptions,
  serverDeadline: number,
): { keys: string[]; args: ApplyArg[] } {
  const keys: string[] = [];
  const index = new Map<string, number>();
  // Each key travels once in KEYS (so a cluster can check the slot) and is named by its index.
  const keyRef = (key: string) => {
    let n = index.get(key);
    if (n === undefined) {
      keys.push(key);
      index.set(key, (n = keys.length));
    }
    return String(n);
  };
  const args: ApplyArg[] = [String(serverDeadline), String(options.guards?.length ?? 0)];
  for (const g of options.guards ?? []) {
    if (g.field === undefined) args.push('s', keyRef(g.key));
    else args.push('h', keyRef(g.key), g.field);
    if (g.equals === null) args.push('0');
    else args.push('1', g.equals);
  }
  const body: ApplyArg[] = [];
  let count = 0;
  for (let o = 0; o < ops.length; o++) {
    const op = ops[o]!;
    // Consecutive deletes go as one 'dels' whose arguments are the keys' indexes.
    if (op.op === 'del' && ops[o + 1]?.op === 'del') {
      const refs: string[] = [];
      while (ops[o]?.op === 'del') refs.push(keyRef(ops[o++]!.key));
      o--;
      body.push('dels', refs[0]!, String(refs.length));
      for (const r of refs) body.push(r);
      count++;
      continue;
    }
    let payload: ApplyArg[];
    switch (op.op) {
      case 'set':
        payload = [op.value, op.keepTtl ? 'keep' : String(op.ttlMs ?? 0)];
        break;
      case 'del':
      case 'incr':
        payload = [];
        break;
      case 'pexpire':
        payload = [String(op.ttlMs)];
        break;
      case 'move':
        payload = [keyRef(op.to)];
        break;
      case 'xadd': {
        // Consecutive appends to one stream go as one operation, stored as runs (streamRuns.ts):
        // a push of 500 users appends 500 events.
        const values = [op.value];
        for (let next = ops[o + 1]; next?.op === 'xadd' && next.key === op.key; next = ops[++o + 1])
          values.push(next.value);
        payload = [];
        for (const run of runsOf(values)) payload.push(String(run.length), run);
        break;
      }
      case 'xtrim':
        payload = [op.minId];
        break;
      case 'hset':
        payload = [];
        for (const [f, v] of op.entries) payload.push(f, v);
        break;
      case 'hdel':
        payload = [...op.fields];
        break;
      case 'sadd':
      case 'srem':
        payload = [...op.members];
        break;
    }
    // Redis refuses variadic commands without arguments; an empty one is a no-op anyway.
    if (payload.length === 0 && !['del', 'incr'].includes(op.op)) continue;
    body.push(op.op, keyRef(op.key), String(payload.length));
    // A loop, not a spread: spreading tens of thousands of arguments overflows the call stack.
    for (const p of payload) body.push(p);
    count++;
  }
  args.push(String(count));
  for (const b of body) args.push(b);
  return { keys, args };
}

/**
 * An argument of the apply script: a string, or a run of stream values (streamRuns.ts), which
 * `packArgs` sends as one string, its values joined by newlines.
 */
export type ApplyArg = string | readonly string[];

/**
 * The apply script's arguments as one MessagePack array of strings (str 32 each), its only ARGV.
 * A push of 500 users is thousands of arguments, most of them JSON with non-ASCII names: as
 * separate strings, node-redis measured each one's UTF-8 length and joined them into one string
 * that the socket then flattened and encoded again, more CPU than the rest of the push's write.
 * Here each string is encoded once, straight into one buffer, and so is each value of a run:
 * joining a run first copied its events once more (a write shaped as a 500-user push's, 500
 * records and 500 events: 0.85 ms to encode and pack against 0.98, means of five runs). A run
 * whose values are not each one line is refused.
 */
export function packArgs(args: readonly ApplyArg[]): Buffer {
  // Room for the worst case: 3 bytes per UTF-16 unit (a surrogate pair is 4 bytes for 2 units),
  // and a newline between the values of a run.
  let room = 5;
  for (const a of args)
    if (typeof a === 'string') room += 5 + 3 * a.length;
    else for (const v of a) room += 6 + 3 * v.length;
  const packed = Buffer.allocUnsafe(room);
  packed[0] = 0xdd; // array 32
  packed.writeUInt32BE(args.length, 1);
  let at = 5;
  for (const a of args) {
    const start = at + 5;
    let end: number;
    if (typeof a === 'string') end = start + packed.write(a, start, 'utf8');
    else {
      end = start;
      for (let k = 0; k < a.length; k++) {
        if (k > 0) packed[end++] = 0x0a;
        end += packed.write(a[k]!, end, 'utf8');
      }
      // UTF-8 encodes no other character with the byte 0x0a: one per value but the first
      let lines = 1;
      const text = packed.subarray(start, end);
      for (let n = text.indexOf(0x0a); n !== -1; n = text.indexOf(0x0a, n + 1)) lines++;
      if (lines !== a.length) for (const v of a) checkStreamValue(v);
    }
    packed[at] = 0xdb; // str 32
    packed.writeUInt32BE(end - start, at + 1);
    at = end;
  }
  return packed.subarray(0, at);
}

/**
 * A hash's entries as flat `field, value, …` lists of at most `size` entries each, for `stage`'s
 * HSETs: pipelined commands of bounded size rather than one huge command.
 */
export function hashChunks(entries: readonly (readonly [string, string])[], size = 1000): string[][] {
  const chunks: string[][] = [];
  for (let i = 0; i < entries.length; i += size) {
    const chunk: string[] = [];
    for (const [f, v] of entries.slice(i, i + size)) chunk.push(f, v);
    chunks.push(chunk);
  }
  return chunks;
}
