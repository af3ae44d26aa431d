-- wrk script for spoor's benchmarks. With SPOOR_BENCH_BODY set to a file, every request is a POST of that file;
-- otherwise wrk sends its prebuilt GET. At the end it prints the run's totals and latency percentiles (µs) as one
-- JSON line. No per-request function is defined, so wrk runs no Lua per request.

local body_file = os.getenv('SPOOR_BENCH_BODY')
if body_file ~= nil and body_file ~= '' then
  local f = assert(io.open(body_file, 'rb'))
  wrk.method = 'POST'
  wrk.body = f:read('*a')
  f:close()
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"min":%d,"mean":%.1f,"stdev":%.1f,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99.9":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
