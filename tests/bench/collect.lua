-- wrk script: POST /api/v1/collect with BATCH fresh events per request (unique event ids).
local site_key = os.getenv("SITE_KEY")
local batch = tonumber(os.getenv("BATCH") or "1")
local counter = 0
local prefix

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  prefix = string.format("%08x-%04x-4%03x", math.random(0, 0x7fffffff), math.random(0, 0xffff), math.random(0, 0xfff))
end

local function event()
  counter = counter + 1
  return string.format(
    '{"event_id":"%s-a%03x-%012x","type":"product_view","visitor_id":"v%d","session_id":"s%d",' ..
    '"product_id":"p%d","url":"http://localhost/p/%d","ts":"2026-01-01T00:00:00Z"}',
    prefix, math.random(0, 0xfff), counter, counter % 5000, counter % 5000, counter % 2000, counter % 2000)
end

request = function()
  local events = {}
  for i = 1, batch do events[i] = event() end
  local body = '{"site_key":"' .. site_key .. '","events":[' .. table.concat(events, ",") .. ']}'
  return wrk.format("POST", "/api/v1/collect",
    {["Content-Type"] = "text/plain", ["Origin"] = "http://localhost"}, body)
end
