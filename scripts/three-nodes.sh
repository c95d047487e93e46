#!/usr/bin/env bash
# Runs a 3-process chainlab network on this machine: three `chainlab node` processes on
# 127.0.0.1 (ports 7400, 7401, 7402 by default) sharing config/three-nodes.toml, joined over TCP.
# Each node's output goes to a log file; Ctrl-C (or SIGTERM to this script) stops the three with
# SIGTERM, waits for them and prints each node's final line. See --help.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/three-nodes.sh [--dir DIR] [--duration DUR] [--port PORT] [--config FILE]

Starts three `chainlab node` processes on 127.0.0.1, node 1 dialling node 0 and node 2
dialling both, and waits for Ctrl-C: then it sends SIGTERM to the three, waits for them and
prints each node's final line (`node N stopped by ...: height H tip HASH peers P`).

  --dir DIR       keep data, logs and reports here (default: a new temporary directory).
                  Given again, the nodes resume from their stores.
  --duration DUR  stop the nodes after DUR (e.g. 60s) instead of waiting for Ctrl-C
  --port PORT     first port (default 7400); the nodes listen on PORT, PORT+1, PORT+2
  --config FILE   shared config (default: config/three-nodes.toml of this repository)
  -h, --help      this text

Files in DIR: nodeN/ (the node's sled store), nodeN.log (its output: a `durable N HEIGHT
HASH` line per block flushed to its store, then its final line) and nodeN.json (its report,
written at shutdown).

The binary is $CHAINLAB when set (e.g. CHAINLAB=target/release/chainlab), else this
repository's, through `cargo run --release`.
EOF
}

die() {
    echo "three-nodes: $*" >&2
    exit 2
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
config="$root/config/three-nodes.toml"
dir=""
duration=""
port=7400

while (($# > 0)); do
    case "$1" in
        --dir) (($# > 1)) || die "--dir needs a value"; dir="$2"; shift 2 ;;
        --dir=*) dir="${1#*=}"; shift ;;
        --duration) (($# > 1)) || die "--duration needs a value"; duration="$2"; shift 2 ;;
        --duration=*) duration="${1#*=}"; shift ;;
        --port) (($# > 1)) || die "--port needs a value"; port="$2"; shift 2 ;;
        --port=*) port="${1#*=}"; shift ;;
        --config) (($# > 1)) || die "--config needs a value"; config="$2"; shift 2 ;;
        --config=*) config="${1#*=}"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port == 0 || port + 2 > 65535)); then
    die "--port $port: not a port"
fi
[[ -f "$config" ]] || die "no config file $config"

if [[ -n "${CHAINLAB:-}" ]]; then
    [[ -x "$CHAINLAB" ]] || die "CHAINLAB=$CHAINLAB is not an executable"
    chainlab=("$CHAINLAB")
else
    # Build once here, so that the three `cargo run` below do not each wait on the build.
    echo "building chainlab (cargo build --release)..."
    cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin chainlab
    chainlab=(cargo run --release --quiet --manifest-path "$root/Cargo.toml" --bin chainlab --)
fi

if [[ -z "$dir" ]]; then
    dir="$(mktemp -d "${TMPDIR:-/tmp}/chainlab-three-nodes.XXXXXX")"
else
    mkdir -p "$dir"
fi
dir="$(cd "$dir" && pwd)"

# Each node in its own process group, so that Ctrl-C reaches this script only: the nodes are
# stopped by the SIGTERM it forwards.
set -m

pids=()
addrs=()
stopping=""

# Sends SIGTERM to the nodes still running. (It and on_signal run from traps, which the
# linter does not see: SC2317 is a false positive here.)
# shellcheck disable=SC2317
stop_nodes() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
}

# Ctrl-C or SIGTERM: stop the nodes, once.
# shellcheck disable=SC2317
on_signal() {
    if [[ -z "$stopping" ]]; then
        stopping=1
        echo
        echo "stopping the nodes (SIGTERM)..."
        stop_nodes
    fi
}

# On any exit (an error included), no node is left running.
trap stop_nodes EXIT
trap on_signal INT TERM

for id in 0 1 2; do
    [[ -z "$stopping" ]] || break
    addr="127.0.0.1:$((port + id))"
    args=(node --config "$config" --id "$id" --listen "$addr"
        --data-dir "$dir/node$id" --report "$dir/node$id.json" --durable-log -)
    for peer in "${addrs[@]}"; do
        args+=(--peer "$peer")
    done
    if [[ -n "$duration" ]]; then
        args+=(--duration "$duration")
    fi
    "${chainlab[@]}" "${args[@]}" </dev/null >"$dir/node$id.log" 2>&1 &
    pids+=("$!")
    addrs+=("$addr")
    # Wait (up to 60 s) for the node to listen before starting the next one.
    for ((tries = 0; ; tries++)); do
        if [[ -n "$stopping" ]] || grep -q "^node $id listening on " "$dir/node$id.log"; then
            break
        fi
        if ! kill -0 "${pids[$id]}" 2>/dev/null || ((tries >= 600)); then
            echo "three-nodes: node $id did not start; its output ($dir/node$id.log):" >&2
            cat "$dir/node$id.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    [[ -n "$stopping" ]] || echo "node $id: pid ${pids[$id]}, listening on $addr, log $dir/node$id.log"
done

if [[ -z "$stopping" ]]; then
    echo "data, logs and reports in $dir"
    echo "follow with: tail -f $dir/node0.log"
    if [[ -n "$duration" ]]; then
        echo "running for $duration (Ctrl-C stops earlier)"
    else
        echo "Ctrl-C stops the three"
    fi
fi

# Wait for the three to exit; a trapped signal interrupts `wait`, so wait again while the node
# still runs.
for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
        wait "$pid" 2>/dev/null || true
    done
done
trap - EXIT INT TERM

status=0
for id in "${!pids[@]}"; do
    log="$dir/node$id.log"
    if final="$(grep "^node $id stopped by " "$log")"; then
        echo "$final"
    else
        status=1
        echo "node $id did not stop cleanly; the end of $log:"
        tail -n 5 "$log"
    fi
done
echo "reports: $dir/node0.json $dir/node1.json $dir/node2.json"
exit "$status"
