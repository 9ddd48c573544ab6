"""The installed llama.cpp build: never AMX nor -march=native, flags chosen from the CPU, and a
crash in the child process is reported, not suffered."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from enclave.llama_build import _death, build_info, check_generation
from enclave.model_files import default_llm_model
from tests.support.paths import ROOT

SCRIPT = ROOT / "deploy" / "llama" / "cmake-args.sh"


def cmake_args(tmp_path: Path, flags: str) -> str:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    env = {**os.environ, "CPUINFO": str(cpuinfo)}
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "amd64"), reason="x86 flags")
def test_amx_cpu_gets_avx512_without_amx_and_without_native(tmp_path: Path) -> None:
    args = cmake_args(tmp_path, "fpu sse4_2 avx avx2 fma f16c bmi2 avx512f avx512vbmi "
                      "avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8 avx_vnni")  # fmt: skip
    assert "-DGGML_NATIVE=OFF" in args
    assert "-DGGML_AMX_TILE=OFF" in args and "-DGGML_AMX_INT8=OFF" in args
    assert "-DGGML_AVX512=ON" in args and "-DGGML_AVX512_VNNI=ON" in args
    assert "AMX_TILE=ON" not in args and "AMX_INT8=ON" not in args


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "amd64"), reason="x86 flags")
def test_cpu_without_avx512_gets_avx2_only(tmp_path: Path) -> None:
    args = cmake_args(tmp_path, "fpu sse4_2 avx avx2 fma f16c bmi2")
    assert "-DGGML_AVX2=ON" in args and "-DGGML_FMA=ON" in args
    assert "-DGGML_AVX512=OFF" in args and "-DGGML_AVX512_BF16=OFF" in args


def test_installed_build_uses_no_amx_and_no_native_flags() -> None:
    info = build_info()
    assert info.features, info.system_info
    assert not info.uses_amx, info.system_info
    if info.cmake_args is None:
        pytest.skip("llama-cpp-python was not installed by `make install` (no flags recorded)")
    assert not info.native, info.cmake_args


def test_generation_check_passes_with_the_shipped_model() -> None:
    model = default_llm_model()
    assert model is not None
    result = check_generation(model)
    assert result.ok, result.detail
    assert result.detail.startswith("'")  # the repr of the generated text


def test_generation_check_reports_a_missing_or_broken_model(tmp_path: Path) -> None:
    assert not check_generation(tmp_path / "absent.gguf").ok
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file at all")
    result = check_generation(broken)
    assert not result.ok and "exited with status" in result.detail


def test_a_crashing_child_is_named_by_its_signal() -> None:
    # What a build with instructions the CPU cannot run looks like from the parent.
    child = subprocess.run([sys.executable, "-c", "import os, signal; "
                            "os.kill(os.getpid(), signal.SIGSEGV)"])  # fmt: skip
    assert _death(child.returncode) == "killed by SIGSEGV"
    assert _death(-signal.SIGILL) == "killed by SIGILL"
    assert _death(3) == "exited with status 3"


def test_make_install_check_exits_nonzero_for_a_model_that_cannot_run(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF")
    done = subprocess.run([sys.executable, "-m", "enclave.llama_build", str(broken)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1
    assert "llama.cpp check FAILED" in done.stderr and "LLAMA_CMAKE_ARGS" in done.stderr
