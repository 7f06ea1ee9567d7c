-- Advertiser postbacks over pre-issued click ids, for bench/postback.sh:
--   wrk -t1 -c64 -d10s -s bench/wrk/postback.lua URL -- ids=FILE [amount=19.99]
-- Each request converts the next click id of FILE (cycling) with its own order id: a random
-- per-thread prefix and a counter, so every request creates a new conversion rather than
-- replaying one.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local ids = {}
local head, tail
local n = 0

function init(args)
  local a = parse_args(args)
  local f = assert(io.open(assert(a.ids, "postback.lua needs ids=FILE"), "r"))
  for line in f:lines() do
    if #line > 0 then ids[#ids + 1] = line end
  end
  f:close()
  if #ids == 0 then error("postback.lua: no click ids in " .. a.ids) end
  head = "GET /postback?amount=" .. (a.amount or "19.99") ..
         "&txid=B" .. random_bits() .. "-" -- the counter and &cid= follow
  tail = " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\n\r\n"
end

function request()
  n = n + 1
  return head .. n .. "&cid=" .. ids[n % #ids + 1] .. tail
end

-- Shows the first few failed answers on stderr: wrk itself only counts them.
local failures = 0
function response(status, headers, body)
  if status >= 300 and failures < 5 then
    failures = failures + 1
    io.stderr:write("postback answered ", status, ": ", body, "\n")
  end
end
