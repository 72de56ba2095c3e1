-- wrk script: realistic decision requests (project schema) for the NeuralStream decision API and
-- bench/python_mpc_server.py. Each wrk thread drives SESSIONS sessions round-robin; every session
-- reports chunks 0, 1, 2, ... 47 in order (SESSIONS >= connections per thread keeps each session's
-- reports in order), then a fresh session id takes its place. Levels, sizes and download times vary
-- per session so RobustMPC's look-ahead does real work.
local sessions = tonumber(os.getenv("SESSIONS") or "256")
local chunks = 48
local bitrates = {300, 750, 1200, 1850, 2850, 4300}
local counter = 0
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

local first = true

request = function()
  if first then
    -- wrk builds one request per thread before connecting and may never send it: make that one a
    -- throwaway session start, so no real session loses its chunk 0.
    first = false
    return wrk.format("POST", string.format("/api/v1/sessions/w%s-warmup/decision", tostring(tid)),
      {["Content-Type"] = "application/json"}, '{"buffer_s":0}')
  end
  local n = counter
  counter = counter + 1
  local s = n % sessions
  local c = math.floor(n / sessions) % chunks
  local epoch = math.floor(n / (sessions * chunks))
  local level = (s + c) % 6
  local size = math.floor(bitrates[level + 1] * 4000 / 8 * (0.9 + 0.2 * ((s * 7 + c * 13) % 10) / 10))
  local bw_kbps = 800 + ((s * 31 + c * 17) % 40) * 100
  local delay = math.floor(size * 8 / bw_kbps) + 20
  local start = c * 4000
  local body = string.format(
    '{"buffer_s":%.2f,"last_chunk":{"index":%d,"level":%d,"size_bytes":%d,"request_start_ms":%d,"request_finish_ms":%d}}',
    5 + (s * 3 + c) % 25, c, level, size, start, start + delay)
  local path = string.format("/api/v1/sessions/w%s-%d-%d/decision", tostring(tid), epoch, s)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end
