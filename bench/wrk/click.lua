-- Tracking-link clicks, for bench/load.sh and bench/datascale.sh:
--   wrk -t1 -c64 -d10s -s bench/wrk/click.lua http://127.0.0.1:PORT -- offer=ID aff=ID [close=1]
-- Every request has its own sub1 (one of 2000 values, so reports have realistic rows), its own
-- X-Forwarded-For and a browser User-Agent, so every click has its own dedupe key: Ricochet
-- believes X-Forwarded-For from 127.0.0.1 because bench/ starts it with --trusted-proxy
-- 127.0.0.1. close=1 adds "Connection: close": one new connection per request. nginx gets the
-- same requests and ignores the query and headers.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local kUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 " ..
                   "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
local head, tail, base
local n = 0

function init(args)
  local a = parse_args(args)
  head = "GET /c/" .. (a.offer or "demo") .. "?aff=" .. (a.aff or "demo-aff") .. "&sub1=s"
  tail = " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nUser-Agent: " .. kUserAgent ..
         "\r\n" .. (a.close == "1" and "Connection: close\r\n" or "") .. "X-Forwarded-For: "
  base = random_bits() % 4294967296
end

function request()
  n = n + 1
  -- A different address per request (2^24 before one repeats), first octet 1..223.
  local v = (base + n) % 4294967296
  local ip = (1 + math.floor(v / 16777216) % 223) .. "." .. math.floor(v / 65536) % 256 .. "." ..
             math.floor(v / 256) % 256 .. "." .. v % 256
  return head .. (n % 2000) .. tail .. ip .. "\r\n\r\n"
end
