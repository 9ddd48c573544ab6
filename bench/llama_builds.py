"""Prompt and decode tokens/s of several llama.cpp builds, on the same model, prompt and
threads, in one run.

    .venv/bin/python bench/llama_builds.py NAME=WHEEL_OR_DIR [NAME=WHEEL_OR_DIR ...]

Each wheel (a llama-cpp-python wheel built with some CMAKE_ARGS, e.g. the folders
`make install` leaves in ~/.cache/enclave/wheels) is unpacked into a temporary folder, and
every measurement runs in a child process that imports that build only. A build that
crashes (SIGSEGV, SIGILL) is reported as such and the others go on. The model is the shipped
SmolLM2-135M-Instruct unless --model names another GGUF.

Prompt: a ~300-token passage evaluated in one batch. Decode: 64 single-token evaluations
after it (what generation does per token, without sampling, so every build does the same
work). Best of --rounds.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import enclave  # noqa: F401  (offline mode first)
from bench._common import table
from enclave.llama_build import _death
from enclave.model_files import default_llm_model

PROMPT = (
    "Travel policy. Employees who travel for work book economy class for flights under six "
    "hours and may book premium economy above that. Hotels are booked through the travel "
    "desk; the nightly limit is 180 euros in capitals and 130 euros elsewhere. Meals are "
    "covered by a per diem of 45 euros, reduced by a third when a meal is provided. "
) * 5 + "Question: what is the per diem for meals? Answer:"

_MEASURE = """
import json, sys, time
import llama_cpp
from llama_cpp import Llama
model, threads, rounds, prompt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
llm = Llama(model_path=model, n_ctx=1024, n_threads=threads, n_threads_batch=threads,
            n_batch=512, verbose=False)
tokens = llm.tokenize(prompt.encode())
prompt_s, decode_s = [], []
for _ in range(rounds):
    llm.reset()
    t0 = time.perf_counter(); llm.eval(tokens); t1 = time.perf_counter()
    for _ in range(64):
        llm.eval([tokens[-1]])
    t2 = time.perf_counter()
    prompt_s.append(t1 - t0); decode_s.append(t2 - t1)
info = llama_cpp.llama_print_system_info().decode()
maps = open("/proc/self/maps").read()  # which CPU variant a dispatching build loaded
variants = sorted({w.rsplit("/", 1)[-1] for w in maps.split() if "libggml-cpu-" in w})
print(json.dumps({"prompt_tokens": len(tokens), "prompt_s": min(prompt_s),
                  "decode_s": min(decode_s), "system_info": info, "variants": variants}))
"""


def unpack(wheel: Path, into: Path) -> Path:
    if wheel.is_dir():
        wheel = next(wheel.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(into)
    return into


def measure(site: Path, model: Path, threads: int, rounds: int, cwd: Path) -> dict[str, Any]:
    child = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(model), str(threads), str(rounds), PROMPT],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        cwd=cwd,
    )
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or [""])[-1]  # the exception's message
        return {"error": f"{_death(child.returncode)}: {last[:200]}"}
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("builds", nargs="+", help="NAME=path to a wheel or a folder holding one")
    parser.add_argument("--model", type=Path, default=default_llm_model())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.builds:
            name, _, path = spec.partition("=")
            site = unpack(Path(path), Path(tmp) / name)
            runs = [(name, site.parent)]
            # A GGML_BACKEND_DL build keeps its CPU variants in bin/; ggml looks for them
            # next to the executable and in the working directory only. Measure it as
            # installed, and once more from bin/, to see which variant it picks.
            if any((site / "bin").glob("libggml-cpu-*.so")):
                runs.append((f"{name} (cwd=bin/)", site / "bin"))
            for label, cwd in runs:
                rows.append(row(label, measure(site, args.model, args.threads, args.rounds, cwd)))
    print(f"model {args.model.name}, {args.threads} threads, best of {args.rounds}")
    print(table(["build", "prompt tok/s", "decode tok/s", "CPU features compiled in"], rows,
                "lrrl"))  # fmt: skip


def row(name: str, result: dict[str, Any]) -> list[str]:
    print(f"{name}: {json.dumps(result)}", file=sys.stderr)
    if "error" in result:
        return [name, "-", "-", str(result["error"]).replace("\n", " ")[:120]]

    features = [
        part.split("=")[0].strip()
        for part in str(result["system_info"]).split("|")
        if part.strip().endswith("= 1")
    ]
    prompt_tps = int(result["prompt_tokens"]) / float(result["prompt_s"])
    decode_tps = 64 / float(result["decode_s"])
    shown = " ".join(f for f in features if f not in ("SSE3", "SSSE3"))
    if result.get("variants"):
        shown = f"loaded {', '.join(result['variants'])}: {shown}"
    return [name, f"{prompt_tps:.0f}", f"{decode_tps:.1f}", shown]


if __name__ == "__main__":
    main()
