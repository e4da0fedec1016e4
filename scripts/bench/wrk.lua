-- wrk script for `npm run bench` (scripts/bench/wrk.ts runs wrk with it). Arguments after `--`,
-- each `key=value`:
--   method=POST       the request method (wrk has no flag for it)
--   body=TEMPLATE     the request body; every `[<id>]` in it becomes a fresh id per request, so
--                     the server under test and the bare baseline get the same requests
--   rate=N            pace the whole run at N requests/s instead of as fast as possible
-- done() prints one line, `WRK_JSON {...}`, with the figures (latencies in microseconds).

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long sec; long nsec; } mlc_timespec;
  int clock_gettime(int clock, mlc_timespec *ts);
]])
local CLOCK_MONOTONIC = 1
local ts = ffi.new("mlc_timespec")

-- Milliseconds on the monotonic clock (LuaJIT has no sub-second clock of its own).
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.sec) * 1000 + tonumber(ts.nsec) / 1e6
end

local threads = {}

function setup(thread)
  -- Each thread's ids get their own prefix, so ids never repeat across threads or runs.
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua environment).
late = 0
max_late_ms = 0

function init(args)
  local opts = {}
  for _, arg in ipairs(args) do
    local key, value = arg:match("^([%w_]+)=(.*)$")
    if key then opts[key] = value end
  end
  if opts.method then wrk.method = opts.method end

  if opts.body and opts.body:find("[<id>]", 1, true) then
    -- Split once around the placeholder; a request then costs one counter bump and one concat.
    local parts, from = {}, 1
    while true do
      local s, e = opts.body:find("[<id>]", from, true)
      if not s then break end
      table.insert(parts, opts.body:sub(from, s - 1))
      from = e + 1
    end
    local tail = opts.body:sub(from)
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    math.randomseed(tonumber(ts.nsec))
    local prefix = string.format("%x%x%d-", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), thread_index or 0)
    local n = 0
    local buf = {}
    request = function()
      n = n + 1
      local id = prefix .. n
      for i = 1, #parts do
        buf[2 * i - 1] = parts[i]
        buf[2 * i] = id
      end
      buf[2 * #parts + 1] = tail
      return wrk.format(nil, nil, nil, table.concat(buf, "", 1, 2 * #parts + 1))
    end
  elseif opts.body then
    wrk.body = opts.body
  end

  local rate = tonumber(opts.rate)
  if rate and rate > 0 then
    -- One schedule for the thread: each request claims the next slot (1/rate apart) and waits
    -- for it. A connection still waiting for its response when a slot comes sends late, and its
    -- latency then leaves out the wait; `late` counts those so the report can say so.
    local interval = 1000 / rate
    local start, slot = nil, 0
    delay = function()
      local now = now_ms()
      if not start then start = now end
      local due = start + slot * interval
      slot = slot + 1
      local wait = due - now
      if wait < -1 then
        late = late + 1
        if -wait > max_late_ms then max_late_ms = -wait end
      end
      return wait > 0 and math.floor(wait) or 0
    end
  end
end

function done(summary, latency, requests)
  local late_total, max_late = 0, 0
  for _, thread in ipairs(threads) do
    late_total = late_total + (thread:get("late") or 0)
    max_late = math.max(max_late, thread:get("max_late_ms") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"late":%d,"max_late_ms":%.1f}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    late_total, max_late
  ))
end
