-- wrk script: GET the request paths listed in the file PATHS (one per line), each thread from its
-- own random starting line, with the Origin header the shop's site key is allowed from.
local paths = {}
local origin = os.getenv("ORIGIN") or "http://localhost"
local position = 1

function init(args)
  for line in io.lines(os.getenv("PATHS")) do
    paths[#paths + 1] = line
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  position = math.random(1, #paths)
end

request = function()
  position = position % #paths + 1
  return wrk.format("GET", paths[position], {["Origin"] = origin})
end
