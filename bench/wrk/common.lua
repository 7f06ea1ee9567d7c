-- Helpers shared by the wrk scripts of bench/: argument parsing, seeds, a wall clock, and one
-- machine-readable result line that bench/lib.sh reads.

-- wrk passes the words after "--" to init(); ours are key=value pairs.
function parse_args(args)
  local t = {}
  for _, a in ipairs(args or {}) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if not k then error("bad argument '" .. a .. "' (expected key=value)") end
    t[k] = v
  end
  return t
end

-- 40 random bits from the kernel: each wrk thread (and each run) gets its own client IPs and
-- order ids, which os.time() seeds would repeat. Kept below 10^14 so tostring() prints every
-- digit rather than an exponent.
function random_bits()
  local f = assert(io.open("/dev/urandom", "rb"))
  local s = f:read(5)
  f:close()
  local v = 0
  for i = 1, #s do v = v * 256 + s:byte(i) end
  return v
end

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
-- CLOCK_MONOTONIC in milliseconds, with sub-millisecond precision.
function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%.1f p99_us=%.1f max_us=%d " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
