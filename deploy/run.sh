#!/usr/bin/env bash
# Starts the MCP example scaled out on loopback, no root needed: Redis (when none answers on
# REDIS_PORT), N instances of examples/mcp_sse/main.ts on 127.0.0.1:BASE_PORT+1..N sharing their
# sessions on it (MCP_REDIS_URL), and nginx on 127.0.0.1:PORT in front of them (deploy/nginx.conf,
# with its prefix, pid and temp dirs under a temp dir). Ctrl-C stops what it started.
#
#   deploy/run.sh                      # 3 instances behind http://127.0.0.1:8080/mcp
#   N=4 PORT=9000 deploy/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-3}"
PORT="${PORT:-8080}"
BASE_PORT="${BASE_PORT:-$((PORT + 100))}"
REDIS_PORT="${REDIS_PORT:-6379}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
dir="$(mktemp -d "${TMPDIR:-/tmp}/lunet-scale.XXXXXX")"
pids=()

stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap stop INT TERM EXIT

wait_port() { # port seconds
  for _ in $(seq 1 "$(($2 * 10))"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$dir" \
    >"$dir/redis.log" 2>&1 &
  pids+=($!)
  wait_port "$REDIS_PORT" 10
  echo "redis-server on 127.0.0.1:$REDIS_PORT (pid ${pids[-1]})"
fi

upstreams=""
for i in $(seq 1 "$N"); do
  port=$((BASE_PORT + i))
  MCP_PORT="$port" MCP_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" MCP_DB="$dir/notes.db" \
    deno run -A examples/mcp_sse/main.ts >"$dir/instance-$i.log" 2>&1 &
  pids+=($!)
  upstreams+="    server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
done
for i in $(seq 1 "$N"); do wait_port $((BASE_PORT + i)) 60; done

mkdir -p "$dir/tmp"
awk -v listen="127.0.0.1:$PORT" -v upstreams="${upstreams%$'\n'}" \
  '{ gsub("@LISTEN@", listen); if ($0 == "@UPSTREAMS@") print upstreams; else print }' \
  deploy/nginx.conf >"$dir/nginx.conf"
"$NGINX" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_port "$PORT" 10
echo "$N instances (127.0.0.1:$((BASE_PORT + 1))..$((BASE_PORT + N))) behind nginx: http://127.0.0.1:$PORT/mcp"
echo "logs in $dir; Ctrl-C stops"
wait -n "${pids[@]}" || true
