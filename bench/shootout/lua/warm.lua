-- Warm-up: cycles through the routes a server answers, so each is compiled
-- before anything is timed. Arguments name them: hello, echo, big.
--   wrk ... -s warm.lua URL -- hello echo big
local reqs = {}
local n = 0

function init(args)
  for _, kind in ipairs(args) do
    if kind == "hello" then
      reqs[#reqs + 1] = wrk.format("GET", "/")
    elseif kind == "echo" then
      local body = string.rep("0123456789abcdef", 256)
      reqs[#reqs + 1] = wrk.format("POST", "/echo", { ["Content-Type"] = "application/octet-stream" }, body)
    elseif kind == "big" then
      reqs[#reqs + 1] = wrk.format("GET", "/64k")
    end
  end
  if #reqs == 0 then
    reqs[1] = wrk.format("GET", "/")
  end
end

function request()
  n = n % #reqs + 1
  return reqs[n]
end
