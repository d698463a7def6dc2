# Shared by the benchmark scripts (sourced): a free loopback port, and `freshet serve` started on
# one and waited for. The caller defines `work` (its scratch directory) and `bench` (its name,
# for messages), and kills "$server_pid" on exit.

# Prints a free TCP port on 127.0.0.1.
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_serve FRESHET SERVE_ARGS...: runs `FRESHET serve SERVE_ARGS... --listen 127.0.0.1:0`
# in the background with its output in $work/serve.log, sets server_pid, and waits (at most
# 120 s: the server replays the log into window state before it listens) until /readyz answers;
# then sets port (read from the server's first line). Exits the script when the server dies or
# is not ready in time.
start_serve() {
  local freshet=$1
  shift
  : >"$work/serve.log"  # exists before the loop below reads it
  "$freshet" serve "$@" --listen 127.0.0.1:0 >>"$work/serve.log" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 1 1200); do
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "$bench: freshet serve exited" >&2; exit 1; }
    port=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$work/serve.log" | head -n 1)
    if [ -n "$port" ] && curl -fsS -m 2 "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then return 0; fi
    port=""
    sleep 0.1
  done
  cat "$work/serve.log" >&2
  echo "$bench: server not ready after 120 s" >&2
  exit 1
}

# write_predict_lua FILE USERS: a wrk script POSTing one random user's predict request
# ({"entities":{"user_id":["u<n>"]}}, n < USERS; each wrk thread seeded differently) that prints
# one line 'WRK {"rps", "p50_ms", "p99_ms", "requests", "non2xx", "socket_errors"}' at the end.
write_predict_lua() {
  local users=$2
  cat >"$1" <<EOF
local users = $users
local next_seed = 1
function setup(thread) thread:set("seed", next_seed); next_seed = next_seed + 1 end
function init(args) math.randomseed(seed * 7919 + os.time()) end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function request()
  return wrk.format(nil, nil, nil, '{"entities":{"user_id":["u' .. math.random(0, users - 1) .. '"]}}')
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
EOF
}
