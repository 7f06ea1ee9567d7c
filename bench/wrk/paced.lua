-- click.lua at a fixed rate, for the p99 at half of peak (bench/load.sh):
--   wrk -t1 -c64 -d10s -s bench/wrk/paced.lua URL -- offer=ID aff=ID rate=R
-- wrk keeps a connection idle for delay() milliseconds before its next request. Each call
-- takes the next slot of one schedule shared by the thread's connections, slots 1/R s apart
-- from the start, and waits until that slot: the thread sends R requests/s in total whatever
-- the latency, as long as some connection is free. When all are busy, slots fall behind and
-- are sent at once as connections free up (wrk2 does the same). wrk timers have millisecond
-- resolution, so one request can leave up to 1 ms early or late; the schedule is absolute, so
-- the error does not add up. Latency is still measured from the moment a request is written,
-- not from its slot: a server stall longer than a slot is under-counted (coordinated
-- omission), which is why the achieved rate is printed beside the target.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "click.lua")

local click_init = init
local interval_ms, next_slot

function init(args)
  click_init(args)
  local rate = tonumber(parse_args(args).rate)
  if not rate or rate <= 0 then error("paced.lua needs rate=R (requests per second)") end
  interval_ms = 1000 / rate
end

function delay()
  local now = now_ms()
  next_slot = (next_slot or now) + interval_ms
  local wait = next_slot - now
  if wait <= 0 then return 0 end
  return math.floor(wait + 0.5)
end
