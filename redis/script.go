package redis

import goredis "github.com/redis/go-redis/v9"

// The two scripts share one state per sender key, in two keys with the same
// hash tag (so they live in one Redis Cluster slot):
//
//	KEYS[1] log  sorted set: one member "<µs>:<seq>:<n>" per admitted job,
//	             scored by the server time (µs) it was admitted at
//	KEYS[2] st   hash: total (recipients in the log), seq (member counter),
//	             cut_level and cut_at (µs) of the last AIMD cut
//
// Times are the server's own clock (TIME), so every process agrees. Numbers
// that reach Redis go through fmt() because Lua's tostring keeps only 14
// digits and a time in µs has 16.
//
// Both scripts return {status, value, now, cut_level×1000, cut_at}, all
// integers: the caller recomputes the current limit from the cut the same
// way as cur() below.
const prelude = `
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5
local function fmt(x) return string.format('%d', x) end
local function size(m) return tonumber(string.match(m, '(%d+)$')) end

local limit = tonumber(ARGV[1])   -- configured limit, recipients per window
local win = tonumber(ARGV[2])     -- window, µs
local ttl = tonumber(ARGV[3])     -- key TTL when not throttled, ms
local inc = tonumber(ARGV[4])     -- share of limit regained per second

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local st = redis.call('HMGET', KEYS[2], 'total', 'cut_level', 'cut_at')
local total = tonumber(st[1])
local cutLevel = tonumber(st[2])
local cutAt = tonumber(st[3])

-- cur is the current limit: the last cut plus inc×limit for every whole
-- second since it, up to the configured limit.
local cur = limit
if cutLevel and cutAt then
  local secs = math.max(0, math.floor((now - cutAt) / 1000000))
  cur = math.min(limit, cutLevel + secs * inc * limit)
end

-- stTTL keeps the cut until the limit has fully recovered; never less than
-- the log's TTL, so the running total never outlives its log.
local function stTTL()
  if cur >= limit or not cutLevel then return ttl end
  local secs = math.ceil((limit - cutLevel) / (inc * limit)) + 1
  return math.max(ttl, math.ceil((cutAt + secs * 1000000 - now) / 1000))
end

local function reply(status, value)
  return {status, value, now, math.floor((cutLevel or 0) * 1000 + 0.5), cutAt or 0}
end
`

// admitScript admits ARGV[5] recipients iff those admitted in (now−win, now]
// plus them fit the current limit, or the window is empty (a job larger than
// a cut limit goes alone). Status 1: admitted, value = now. Status 0: value
// = µs until enough has expired. Status -1: larger than the configured
// limit.
//
// Callers may count over windows of their own (one on a machine too busy to
// keep time asks for a longer one: pace.Lateness), so the log keeps what
// the longest window asked for in the last keepHold needs (st: keep,
// keep_until), and each caller counts only its own window.
const keepHold = "10000000" // µs

var admitScript = goredis.NewScript(prelude + `
local n = tonumber(ARGV[5])
if n > limit then return reply(-1, 0) end

local kv = redis.call('HMGET', KEYS[2], 'keep', 'keep_until')
local keep, keepUntil = tonumber(kv[1]), tonumber(kv[2]) or 0
if keep == nil or keepUntil <= now or win > keep or (win == keep and keepUntil - now < ` + keepHold + ` / 2) then
  keep = win
  redis.call('HSET', KEYS[2], 'keep', fmt(win), 'keep_until', fmt(now + ` + keepHold + `))
end

-- Drop what left the longest window, keeping the running total.
local cutoff = fmt(now - keep)
local dirty = false
if total == nil then
  -- State lost (never happens while both keys expire together): recount.
  total = 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. cutoff, '+inf')) do
    total = total + size(m)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  dirty = true
else
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  if #old > 0 then
    for _, m in ipairs(old) do total = total - size(m) end
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
    dirty = true
  end
  if total ~= 0 and (total < 0 or redis.call('ZCARD', KEYS[1]) == 0) then
    total = 0
    dirty = true
  end
end

-- What this caller's window holds: the kept total less what is older.
local inwin = total
if keep > win then
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. cutoff, fmt(now - win))) do
    inwin = inwin - size(m)
  end
end

local icur = math.floor(cur + 1e-9)
-- Spacing (GCRA): the window alone bounds every second but would let a
-- whole window leave at its start, and a burst that arrives spread out by
-- network jitter can meet the next one inside one second at the provider.
-- So jobs are also spaced at the window's rate (tat: when the flow is
-- "caught up"), with a tolerance of a tenth of the window for bursts.
local tat = tonumber(redis.call('HGET', KEYS[2], 'tat') or '0') or 0
local tau = win / 10
local spaced = now >= tat - tau
if spaced and (inwin == 0 or inwin + n <= icur) then
  local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
  redis.call('ZADD', KEYS[1], fmt(now), fmt(now) .. ':' .. fmt(seq) .. ':' .. fmt(n))
  redis.call('HSET', KEYS[2], 'total', fmt(total + n), 'tat', fmt(math.max(tat, now) + math.floor(n * win / math.max(icur, 1))))
  redis.call('PEXPIRE', KEYS[1], fmt(ttl))
  redis.call('PEXPIRE', KEYS[2], fmt(stTTL()))
  return reply(1, now)
end

if dirty then redis.call('HSET', KEYS[2], 'total', fmt(total)) end
if not spaced and (inwin == 0 or inwin + n <= icur) then
  return reply(0, math.max(1, tat - tau - now))
end

-- Refused: wait until enough has expired. A job larger than the current
-- limit needs the window empty; otherwise scan the oldest entries (at most
-- 64, then come back) until total+n-cur recipients are covered.
local at
if n > icur then
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  at = tonumber(last[2])
else
  local need = inwin + n - icur
  local items = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. fmt(now - win), '+inf', 'WITHSCORES', 'LIMIT', 0, 64)
  local acc = 0
  for i = 1, #items, 2 do
    acc = acc + size(items[i])
    at = tonumber(items[i + 1])
    if acc >= need then break end
  end
end
if at == nil then return reply(0, 1000) end
return reply(0, math.max(1, at + win - now, tat - tau - now))
`)

// throttleScript cuts the current limit to ×ARGV[5] (at least ARGV[7]),
// at most once per ARGV[6] µs. Status 1: cut, 0: within the cooldown.
var throttleScript = goredis.NewScript(prelude + `
local dec = tonumber(ARGV[5])
local cooldown = tonumber(ARGV[6])
local minLimit = tonumber(ARGV[7])
if cutAt and now >= cutAt and now - cutAt < cooldown then return reply(0, 0) end
cutLevel = math.max(minLimit, cur * dec)
cutAt = now
cur = cutLevel
redis.call('HSET', KEYS[2], 'cut_level', string.format('%.17g', cutLevel), 'cut_at', fmt(now))
redis.call('PEXPIRE', KEYS[2], fmt(stTTL()))
return reply(1, 0)
`)
