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
