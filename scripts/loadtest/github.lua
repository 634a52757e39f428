-- wrk script: signed GitHub `issues.labeled` deliveries, each with its own delivery id, so
-- every request takes the full path (claim, work item, job) rather than the duplicate one.
-- The bodies (one per issue) and their signatures are prepared by scripts/loadtest/run.
local requests_path = os.getenv("BATON_LOADTEST_REQUESTS")
local signatures, bodies = {}, {}
for line in io.lines(requests_path) do
  local tab = string.find(line, "\t", 1, true)
  signatures[#signatures + 1] = string.sub(line, 1, tab - 1)
  bodies[#bodies + 1] = string.sub(line, tab + 1)
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("%04d-%08x", threads, math.random(0, 0x7fffffff)))
end

-- BATON_LOADTEST_SAME_DELIVERY=1 sends one delivery id over and over: the duplicate path,
-- which stores nothing new (a baseline that excludes the cost of growing state).
local same_delivery = os.getenv("BATON_LOADTEST_SAME_DELIVERY") == "1"

local counter = 0
function request()
  counter = counter + 1
  local i = (counter % #bodies) + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "issues",
    ["X-GitHub-Delivery"] = same_delivery and "same-delivery" or (prefix .. "-" .. counter),
    ["X-Hub-Signature-256"] = signatures[i],
  }
  return wrk.format("POST", "/webhooks/github", headers, bodies[i])
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
