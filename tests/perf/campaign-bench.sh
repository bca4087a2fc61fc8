#!/usr/bin/env bash
# `palisade bench` with campaigns off, with the memory store and with the Redis store
# (a local redis-server started here), same message, same load. Prints one JSON line
# per run: bench's own figures plus the daemon's CPU time per message (and Redis's, for
# the Redis store), from /proc. Usage: tests/perf/campaign-bench.sh [messages] [connections...]
# Needs a release build (cargo build --release -p palisade) and redis-server.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=target/release/palisade
MESSAGES=${1:-30000}
shift || true
CONNECTIONS=("${@:-8 64}")
work=$(mktemp -d /tmp/palisade-campaign-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
# utime + stime of a process, in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rport=$(port)
redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --daemonize no \
    >/dev/null 2>&1 &
rpid=$!
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

run() {
    local name=$1; shift
    local mport hport
    mport=$(port); hport=$(port)
    env PALISADE__MILTER__LISTEN="inet:127.0.0.1:$mport" PALISADE__HTTP__LISTEN="127.0.0.1:$hport" \
        PALISADE__AUTH__ENABLED=false PALISADE__STATE__DIR="$work/$name" "$@" \
        "$BIN" serve 2>"$work/$name.log" &
    local pid=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break; sleep 0.1; done
    for c in ${CONNECTIONS[@]}; do
        local before rbefore after rafter
        before=$(cpu "$pid"); rbefore=$(cpu "$rpid")
        out=$("$BIN" bench --json --target "inet:127.0.0.1:$mport" --connections "$c" \
            --messages "$MESSAGES" tests/fixtures/bench/5k.eml)
        after=$(cpu "$pid"); rafter=$(cpu "$rpid")
        printf '{"store":"%s","daemon_cpu_us_per_msg":%s,"redis_cpu_us_per_msg":%s,%s\n' "$name" \
            "$(( (after - before) * 1000000 / $(getconf CLK_TCK) / MESSAGES ))" \
            "$(( (rafter - rbefore) * 1000000 / $(getconf CLK_TCK) / MESSAGES ))" "${out#\{}"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

run off PALISADE__CAMPAIGN__ENABLED=false
run memory PALISADE__STATE__BACKEND=memory
run redis PALISADE__STATE__BACKEND=redis PALISADE__STATE__URL="redis://127.0.0.1:$rport"
