-- wrk script: the seed's report body posted to /reception-result, one
-- report per request, each with a messageId of its own.
--
--   wrk -t2 -c256 -d10s -s bench/wrk/seed.lua http://127.0.0.1:8080
--
-- Environment: HERALD_WRK_TOKEN (bearer token), HERALD_WRK_RUN (a prefix
-- that keeps the ids of two runs apart), HERALD_WRK_DUP=1 for 50% copies:
-- every messageId is posted twice, back to back from one thread, so that
-- the two copies travel on two of its connections at about the same time
-- (a provider retrying a report it thinks lost).

local token = os.getenv("HERALD_WRK_TOKEN") or "report-token-0123456789"
local run = os.getenv("HERALD_WRK_RUN") or "r"
local dup = os.getenv("HERALD_WRK_DUP") == "1"

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("tid", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local headers = {
   ["Content-Type"] = "application/json",
   ["Authorization"] = "Bearer " .. token,
}
n = 0 -- global: done() reads it through thread:get

function request()
   local seq = n
   if dup then seq = math.floor(n / 2) end
   n = n + 1
   local body = '{"messageId":"' .. run .. '-' .. tid .. '-' .. seq ..
      '","resultCode":"SUC","errorText":"","reportTime":"2026-11-25 10:30:02","brandtalkType":"","ref":""}'
   return wrk.format("POST", "/reception-result", headers, body)
end

function done(summary, latency, requests)
   local issued, unique = 0, 0
   for _, t in ipairs(threads) do
      local k = t:get("n")
      issued = issued + k
      if dup then unique = unique + math.ceil(k / 2) else unique = unique + k end
   end
   -- wrk calls request() once on the first thread's state before the run,
   -- to check the request it returns, and never sends that one: its id
   -- (the first thread's first) is not issued. With copies its twin, the
   -- next request, carries the same id and is sent.
   issued = issued - 1
   if not dup then unique = unique - 1 end
   io.write(string.format("issued %d unique %d\n", issued, unique))
end
