-- A POST of SIZE bytes to PATH (default /echo), the same body every time.
--   wrk ... -s post.lua URL -- SIZE [PATH]
local req

function init(args)
  local size = tonumber(args[1]) or 4096
  local path = args[2] or "/echo"
  local body = string.rep("0123456789abcdef", math.ceil(size / 16)):sub(1, size)
  req = wrk.format("POST", path, { ["Content-Type"] = "application/octet-stream" }, body)
end

function request()
  return req
end
