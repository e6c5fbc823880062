#!/usr/bin/env bash
# End to end with real models, no test doubles: polyfeed translates a loopback copy of a real post
# (the title and first 30 long paragraphs of simonwillison.net's "Things we learned about LLMs in
# 2024", 31 blocks full of links, inline code, bold and numbers: the benchmark's post)
#   1. through llama.cpp's llama-server (engine "openai") on Qwen2.5-Coder-0.5B-Instruct: at least
#      70% of the blocks, and
#   2. in-process (engine "local", llama.cpp through llama-cpp-2) on Qwen2.5-Coder-1.5B-Instruct:
#      at least 85%.
# Each run must complete; every published translated block must pass the faithfulness checks again
# (`polyfeed verify`, independent of the run; a small model fails some blocks, and the checks must
# catch those); a rerun must send nothing.
# Prints blocks translated, blocks rejected with their reasons, and seconds per block.
# Set-up (downloads, llama-server build) is cached under target/real-model: paid once.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${REAL_MODEL_CACHE:-$ROOT/target/real-model}
export REAL_MODEL_CACHE=$CACHE
"$ROOT/tests/real_model/setup.sh" q05 q15 llama-server

echo "[real-model] building polyfeed (release, --features local)"
(cd "$ROOT" && cargo build --release --features local --quiet)
POLYFEED=$ROOT/target/release/polyfeed

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for URL SECONDS: until URL answers 200, or fail.
wait_for() {
    python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while True:
    try:
        urllib.request.urlopen(url, timeout=2)
        break
    except Exception:
        if time.time() > deadline:
            sys.exit(f"[real-model] {url} did not come up")
        time.sleep(0.5)
PY
}

# The feeds: entries cut from the real post, served by a loopback HTTP server.
mkdir -p "$WORK/site"
python3 "$ROOT/tests/real_model/make_feed.py" "$ROOT/tests/fixtures/llms-in-2024.html" "$WORK/site"
FEED_PORT=$(free_port)
python3 -m http.server "$FEED_PORT" --bind 127.0.0.1 --directory "$WORK/site" >/dev/null 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$FEED_PORT/post.xml" 30

# config DIR FEED TRANSLATOR-TABLE: a config in DIR for one loopback feed.
config() {
    mkdir -p "$1"
    cat >"$1/feeds.toml" <<EOF
target_languages = ["zh-CN"]

[translator]
$3
temperature = 0
max_attempts = 1
allow_partial = true
partial_share = 0

[[feeds]]
name = "simonwillison"
url = "http://127.0.0.1:$FEED_PORT/$2"
allow_private_network = true
EOF
}

# run_case NAME DIR SHARE: refresh twice and check everything the header promises, with at least
# SHARE of the blocks translated.
run_case() {
    local name=$1 dir=$2
    echo "[real-model] $name: refresh"
    local started=$SECONDS code=0
    "$POLYFEED" --config "$dir/feeds.toml" --log-format json refresh >"$dir/out.txt" 2>"$dir/log.json" || code=$?
    local took=$((SECONDS - started))
    cat "$dir/out.txt"
    if ((code != 0 && code != 2)); then
        echo "[real-model] $name: refresh exited $code" >&2
        tail -20 "$dir/log.json" >&2
        return 1
    fi
    python3 "$ROOT/tests/real_model/check.py" "$name" "$dir" "$POLYFEED" "$took" "$3"
    echo "[real-model] $name: rerun"
    "$POLYFEED" --config "$dir/feeds.toml" refresh >"$dir/out2.txt" 2>/dev/null || true
    grep -q " in 0 requests" "$dir/out2.txt" || { echo "[real-model] $name: the rerun sent requests:" >&2; cat "$dir/out2.txt" >&2; return 1; }
    echo "[real-model] $name: the rerun sent nothing"
}

# 1. llama-server, 0.5B, through the openai engine.
LLAMA_PORT=$(free_port)
"$CACHE/llama-server" -m "$CACHE/q05.gguf" --host 127.0.0.1 --port "$LLAMA_PORT" -c 4096 -t "$(nproc)" \
    >"$WORK/llama.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$LLAMA_PORT/health" 120
config "$WORK/server" post.xml "engine = \"openai\"
base_url = \"http://127.0.0.1:$LLAMA_PORT/v1\"
model = \"qwen2.5-coder-0.5b-instruct\"
max_concurrency = 1
batch_tokens = 50
timeout = 300"
run_case "llama-server 0.5B" "$WORK/server" 0.70
kill "${PIDS[-1]}"

# 2. The local engine, in-process, 1.5B.
config "$WORK/local" post.xml "engine = \"local\"
model_path = \"$CACHE/q15.gguf\"
timeout = 300"
run_case "local 1.5B" "$WORK/local" 0.85
echo "[real-model] all checks passed"
