-- Issues click ids for the postback benchmark: clicks as click.lua, and each answer's click id
-- (the click_id= of the Location) goes to a file, one per line. Once `count` ids are written
-- (and flushed) the thread stops sending; wrk itself still waits out its -d, so bench/postback.sh
-- ends it when the file has `count` lines.
--   wrk -t1 -c64 -d120s -s bench/wrk/issue.lua URL -- offer=ID aff=ID out=FILE count=N
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "click.lua")

local click_init = init
local out, want
local got = 0

function init(args)
  click_init(args)
  local a = parse_args(args)
  out = assert(io.open(a.out, "w"))
  want = assert(tonumber(a.count), "issue.lua needs count=N")
end

function response(status, headers, body)
  local location = headers["Location"] or headers["location"] or ""
  local id = location:match("[?&]click_id=([%w_-]+)")
  if id then
    out:write(id, "\n")
    got = got + 1
  end
  if got >= want then
    out:flush()
    wrk.thread:stop()
  end
end
