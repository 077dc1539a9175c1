"""scripts/llama-wheel.sh: which llama.cpp build a CPU gets, and that this machine got it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "llama-wheel.sh"
AVX512 = "avx512f avx512cd avx512bw avx512dq avx512vl avx512_vnni"


def variant(flags: str | None = None, cmake_args: str | None = None) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CMAKE_ARGS", "OS1_CPU_FLAGS")}
    if flags is not None:
        env["OS1_CPU_FLAGS"] = flags
    if cmake_args is not None:
        env["CMAKE_ARGS"] = cmake_args
    out = subprocess.run(
        ["bash", str(SCRIPT), "--variant"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    name, _, args = out.partition(" ")
    return name, args


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (f"fpu sse2 avx avx2 fma f16c {AVX512} amx_int8 amx_tile", "avx512"),
        ("fpu sse2 avx avx2 fma f16c avx512f", "avx2"),  # AVX-512 without VNNI
        ("fpu sse2 avx avx2 fma f16c", "avx2"),
        ("fp asimd evtstrm", "generic"),  # not x86
    ],
)
def test_the_variant_follows_the_cpu_flags_and_never_uses_amx(flags: str, expected: str):
    name, args = variant(flags)
    assert name == expected
    assert "-DGGML_NATIVE=OFF" in args and "-DGGML_AMX_INT8=OFF" in args
    assert "-DGGML_AMX_INT8=ON" not in args and "-march=native" not in args
    assert ("-DGGML_AVX512=ON" in args) == (expected == "avx512")


def test_cmake_args_set_by_the_user_win_and_get_their_own_wheel():
    name, args = variant("fpu avx2 fma f16c", cmake_args="-DGGML_CUDA=ON")
    assert name.startswith("custom-") and args == "-DGGML_CUDA=ON"
    assert variant(cmake_args="-DGGML_VULKAN=ON")[0] != name


def test_the_installed_llama_cpp_was_built_for_this_cpu():
    import llama_cpp

    if os.environ.get("CMAKE_ARGS"):
        pytest.skip("a custom llama.cpp build (CMAKE_ARGS)")
    info = llama_cpp.llama_print_system_info().decode()
    expected, _ = variant()
    assert ("AVX512 = 1" in info) == (expected == "avx512")
