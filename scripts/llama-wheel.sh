#!/usr/bin/env bash
# Build llama-cpp-python for this CPU's vector units (once per machine and CPU family) and
# install it into the given Python:   scripts/llama-wheel.sh .venv/bin/python
# `scripts/llama-wheel.sh --variant` only prints the variant and its CMake flags (the tests
# pass other CPUs' flags in OS1_CPU_FLAGS).
#
# Why not pip's own build: pip caches a wheel built from an sdist by the sdist alone, so the
# CPU it was tuned for is not part of the key. This script keeps one wheel per variant under
# ${XDG_CACHE_HOME:-~/.cache}/os1/wheels/ instead.
#
# Variants (x86-64; other machines build llama.cpp's defaults):
#   avx512  AVX-512 F/CD/BW/DQ/VL with VNNI present: 512-bit kernels. On 2 cores this evaluates
#           prompts ~1.5x faster and 4 batched sequences ~1.2x faster than avx2 (bench/results/
#           load_model.json); one sequence's decoding is bound by memory either way.
#   avx2    x86-64-v3 (AVX2/FMA/F16C): every other x86 machine of the fleet.
# Never -march=native and never AMX: a native build on CPUs that advertise AMX crashes where the
# kernel does not grant AMX state (seen on our VMs). CMAKE_ARGS set by the caller wins.
set -euo pipefail
PY=${1:?usage: scripts/llama-wheel.sh PYTHON | --variant}
cd "$(dirname "$0")/.."
VERSION=$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml | head -n1 | cut -d= -f3)

flags=" ${OS1_CPU_FLAGS:-$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2)} "
has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
common="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
x86="-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
if [[ -n ${CMAKE_ARGS:-} ]]; then
  variant=custom-$(printf %s "$CMAKE_ARGS" | sha256sum | cut -c1-12)
elif has avx512f avx512cd avx512bw avx512dq avx512vl avx512_vnni; then
  variant=avx512
  CMAKE_ARGS="$common $x86 -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON"
elif has avx2 fma f16c; then
  variant=avx2
  CMAKE_ARGS="$common $x86 -DGGML_AVX512=OFF"
else
  variant=generic
  CMAKE_ARGS="$common"
fi
export CMAKE_ARGS
if [[ $PY == --variant ]]; then
  echo "$variant $CMAKE_ARGS"
  exit 0
fi

dir=${XDG_CACHE_HOME:-$HOME/.cache}/os1/wheels/llama-cpp-python-$VERSION-$variant
wheel=$(ls "$dir"/*.whl 2>/dev/null | head -n1 || true)
if [[ -z $wheel ]]; then
  echo "==> building llama-cpp-python $VERSION for this CPU ($variant; ~5 minutes on 2 cores)"
  rm -rf "$dir.part" && mkdir -p "$dir.part"
  "$PY" -m pip --disable-pip-version-check wheel --no-deps --no-cache-dir \
    --no-binary llama-cpp-python "llama-cpp-python==$VERSION" -w "$dir.part"
  rm -rf "$dir" && mv "$dir.part" "$dir"
  wheel=$(ls "$dir"/*.whl | head -n1)
fi
echo "==> installing llama-cpp-python $VERSION ($variant)"
"$PY" -m pip --disable-pip-version-check install --no-deps --force-reinstall "$wheel"
