-- Pipelining for wrk: every write carries DEPTH requests for PATH, and the next
-- batch goes out once all DEPTH responses are in. wrk counts each response as
-- a request; its latency figures are per batch.
--   wrk ... -s pipeline.lua URL -- DEPTH [PATH]
local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  local path = args[2] or "/"
  local parts = {}
  for i = 1, depth do
    parts[i] = wrk.format("GET", path)
  end
  batch = table.concat(parts)
end

function request()
  return batch
end
