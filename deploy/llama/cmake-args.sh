#!/bin/sh
# Prints the CMake flags `make install` builds llama.cpp with: every x86 extension this CPU
# reports, spelled out, and never AMX nor -march=native.
#
# Why not llama.cpp's default (GGML_NATIVE=ON, i.e. -march=native)? On some VMs the CPU
# reports AMX but the hypervisor faults on the AMX tile instructions: the native build then
# segfaults on the first token. Why not runtime dispatch (GGML_BACKEND_DL +
# GGML_CPU_ALL_VARIANTS)? It would pick its AMX variant on exactly those machines, and
# llama-cpp-python does not find the variant libraries anyway (bench/README.md, "llama.cpp
# build"). AVX-512 (with VNNI/BF16 where present) is used when the CPU has it: with SmolLM2 it
# measured the same as AVX2 here, and its wider integer dot products are what larger quantized
# models spend their time in.
#
# Override with `make install LLAMA_CMAKE_ARGS="..."`; the wheel is rebuilt for new flags.
set -eu
common="-DLLAVA_BUILD=OFF"
case "$(uname -m)" in
  x86_64|amd64) ;;
  *) echo "$common"; exit 0 ;;  # other architectures: llama.cpp's own defaults
esac
flags=" $(grep -m1 "^flags" "${CPUINFO:-/proc/cpuinfo}" 2>/dev/null | cut -d: -f2) "
has() { case "$flags" in *" $1 "*) return 0 ;; esac; return 1; }
args="$common -DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
on() { args="$args -D$1=$2"; }
has sse4_2 && on GGML_SSE42 ON || on GGML_SSE42 OFF
has avx && on GGML_AVX ON || on GGML_AVX OFF
has avx2 && on GGML_AVX2 ON || on GGML_AVX2 OFF
has fma && on GGML_FMA ON || on GGML_FMA OFF
has f16c && on GGML_F16C ON || on GGML_F16C OFF
has bmi2 && on GGML_BMI2 ON || on GGML_BMI2 OFF
has avx_vnni && on GGML_AVX_VNNI ON || on GGML_AVX_VNNI OFF
has avx512f && on GGML_AVX512 ON || on GGML_AVX512 OFF
has avx512vbmi && on GGML_AVX512_VBMI ON || on GGML_AVX512_VBMI OFF
has avx512_vnni && on GGML_AVX512_VNNI ON || on GGML_AVX512_VNNI OFF
has avx512_bf16 && on GGML_AVX512_BF16 ON || on GGML_AVX512_BF16 OFF
echo "$args"
