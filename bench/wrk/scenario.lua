-- One wrk script for every scenario, configured by environment variables (bench/lib/load.ts):
-- WRK_PATHS  file with one path per line, picked uniformly at random (redirect-spread, growth)
-- WRK_PATH   a single path (redirect-hot)
-- WRK_404    "1": random unknown codes (redirect-404)
-- WRK_CREATE fraction of requests that are POST /urls (create = 1, mixed = 0.05)
-- WRK_KEY    admin API key; WRK_USERS  user ids to create links for
-- WRK_UA     User-Agent header on every request (redirect-hot-options), empty: none
local paths = {}
local create = tonumber(os.getenv("WRK_CREATE") or "0")
local key = os.getenv("WRK_KEY") or ""
local users = tonumber(os.getenv("WRK_USERS") or "1")
local random404 = os.getenv("WRK_404") == "1"
local threads = {}
local counter = 0
local bad = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = os.getenv("WRK_PATHS")
  if file and file ~= "" then
    for line in io.lines(file) do if line ~= "" then paths[#paths + 1] = line end end
  else
    paths[1] = os.getenv("WRK_PATH") or "/"
  end
  math.randomseed(os.time() + tonumber(tostring(args):match("0x(%x+)") or "0", 16) % 100000)
end

local headers = {}
if key ~= "" then headers["Authorization"] = "Bearer " .. key end
local agent = os.getenv("WRK_UA") or ""
if agent ~= "" then headers["User-Agent"] = agent end
local post_headers = { ["Content-Type"] = "application/json" }
if key ~= "" then post_headers["Authorization"] = "Bearer " .. key end
local chars = "abcdefghijklmnopqrstuvwxyz0123456789"

function request()
  if create > 0 and math.random() < create then
    counter = counter + 1
    local body = string.format('{"user_id":%d,"original_url":"https://example.com/wrk/%d/%d"}', math.random(users), math.random(1000000000), counter)
    return wrk.format("POST", "/urls", post_headers, body)
  end
  if random404 then
    local s = "/x"
    for _ = 1, 9 do local i = math.random(36); s = s .. chars:sub(i, i) end
    return wrk.format("GET", s, headers)
  end
  return wrk.format("GET", paths[math.random(#paths)], headers)
end

-- Only the 404 scenario defines response(): wrk parses bodies when it exists, which costs rate.
if random404 then
  function response(status)
    if status ~= 404 then bad = bad + 1 end
  end
end

function done(summary, latency, requests)
  local unexpected = 0
  for _, t in ipairs(threads) do unexpected = unexpected + (tonumber(t:get("bad")) or 0) end
  local e = summary.errors
  io.write(string.format('WRKJSON {"total":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"unexpected":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout, unexpected))
end
