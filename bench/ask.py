"""Answer latency: our streamed POST /api/ask (the Litestar app under uvicorn, over HTTP) vs a
bare `llama_cpp.Llama.create_chat_completion` on the identical messages, in the same run.

    .venv/bin/python bench/ask.py [--questions 5] [--model PATH] [--max-tokens 64]

The services are built with `Services.build` on a temporary data dir (SQLite + embedded
Qdrant, real MiniLM), samples/ is ingested by their own worker, and the app is served by
uvicorn on 127.0.0.1. For each question the passages our service retrieves are fetched with
the service's own retrieval step (`AnswerService.passages`: search, relevance filter,
context assembly) and turned into messages with `app.answering.prompting.build_messages`, as
`AnswerService.ask_stream` does; the `sources` event of our stream is checked against them.
The bare path is a second `Llama` loaded from the same GGUF with the same n_ctx / n_threads,
called with the generation options our generator uses. The two paths run one at a time,
alternating which goes first.
"""

import argparse
import asyncio
import json
import logging
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/ask.py` puts bench/ first on sys.path, where bench/ingest.py would shadow the
# `ingest` package: resolve imports from the repository root instead.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import enclave  # noqa: E402, F401  (first: switches the ML libraries to offline mode)
from bench._common import (  # noqa: E402
    SAMPLES,
    bench_settings,
    ingest_folder,
    load_average,
    load_span,
    machine,
    percentile,
    table,
)
from enclave.db.migrate import upgrade  # noqa: E402
from enclave.embedder import Embedder  # noqa: E402
from enclave.settings import Settings  # noqa: E402
from tests.support.sample_questions import SAMPLE_QUESTIONS  # noqa: E402


@dataclass(frozen=True)
class Run:
    ttft: float  # seconds from sending the request (or calling the model) to the first token
    tokens: int  # non-empty content deltas (= `token` SSE events)
    total: float  # seconds from start to the last token
    decode: float | None  # tokens/s after the first token: (tokens - 1) / (last - first)
    text: str
    server: dict[str, Any] | None = None  # our `done` event's timing


def _run(
    started: float, stamps: list[float], parts: list[str], server: dict[str, Any] | None = None
) -> Run:
    if not stamps:
        raise SystemExit("no token was generated")
    span = stamps[-1] - stamps[0]
    decode = (len(stamps) - 1) / span if len(stamps) > 1 and span > 0 else None
    text = "".join(parts)
    return Run(stamps[0] - started, len(stamps), stamps[-1] - started, decode, text, server)


def ask_ours(client: Any, url: str, question: str, expected_sources: list[Any]) -> Run:
    """POST /api/ask with stream=true; token times are taken as each event arrives."""
    stamps: list[float] = []
    parts: list[str] = []
    events: dict[str, Any] = {}
    event, data = "", []
    started = time.perf_counter()
    with client.stream("POST", url, json={"question": question, "stream": True}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif not line and event:
                if event == "token":
                    stamps.append(time.perf_counter())
                    parts.append(json.loads("\n".join(data))["text"])
                else:
                    events[event] = json.loads("\n".join(data))
                event, data = "", []
    if "error" in events or "done" not in events:
        raise SystemExit(f"our stream failed: {events.get('error')}")
    if events["sources"] != expected_sources:
        raise SystemExit(f"our service used other passages than the bare path for {question!r}")
    return _run(started, stamps, parts, events["done"]["timing"])


def ask_bare(llm: Any, messages: list[dict[str, str]], options: Any) -> Run:
    """The same call, loop and token definition as app.answering.generation.Generator.stream."""
    stamps: list[float] = []
    parts: list[str] = []
    started = time.perf_counter()
    for chunk in llm.create_chat_completion(
        messages=messages,
        stream=True,
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        repeat_penalty=options.repeat_penalty,
    ):
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            stamps.append(time.perf_counter())
            parts.append(text)
    return _run(started, stamps, parts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pick_questions(count: int) -> list[str]:
    """Evenly spaced through SAMPLE_QUESTIONS, so the default 5 touch every sample file."""
    step = max(1, len(SAMPLE_QUESTIONS) // count)
    return [q for q, _, _ in SAMPLE_QUESTIONS[::step][:count]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=5, help="questions measured (5)")
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: SmolLM2)")
    parser.add_argument("--max-tokens", type=int, default=64, help="answer limit, both (64)")
    args = parser.parse_args()
    if not 1 <= args.questions <= len(SAMPLE_QUESTIONS):
        parser.error(f"--questions must be between 1 and {len(SAMPLE_QUESTIONS)}")

    with tempfile.TemporaryDirectory(prefix="enclave-bench-ask-") as tmp:
        overrides: dict[str, object] = {"llm_max_tokens": args.max_tokens}
        if args.model:
            overrides["llm_model_path"] = args.model.resolve()
        settings = bench_settings(Path(tmp) / "var", **overrides)
        ours, bare, info = measure(settings, pick_questions(args.questions))
    report(ours, bare, info, settings)


def measure(settings: Settings, questions: list[str]) -> tuple[list[Run], list[Run], dict]:
    import httpx
    import msgspec
    import uvicorn
    from llama_cpp import Llama

    from app.answering.prompting import build_messages
    from app.main import create_app
    from app.schemas import sources_out
    from app.services import Services

    log = sys.stderr
    upgrade(settings.database_url)
    embedder = Embedder.from_settings(settings)
    services = Services.build(settings, embedder=embedder)
    # The service's own worker and store (embedded Qdrant allows one client), before the app
    # starts: `enclave ingest samples/` as it runs when it holds the index.
    totals = ingest_folder(services.worker, SAMPLES)
    if totals["failed"] or not totals["chunks"]:
        raise SystemExit(f"ingesting {SAMPLES} failed: {totals}")
    print(f"ingested {SAMPLES}: {totals}", file=log)

    options = services.generator.options  # what our service generates with
    bare: Any = Llama(
        model_path=str(settings.llm_path()),
        n_ctx=settings.llm_context_size,
        n_threads=settings.llm_threads,
        verbose=False,
    )
    assert bare.n_ctx() == services.generator.context_size

    port = free_port()
    app = create_app(settings, services=services)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per request
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("uvicorn did not start")
        time.sleep(0.05)

    url = f"http://127.0.0.1:{port}/api/ask"
    load_before = load_average()
    ours: list[Run] = []
    bares: list[Run] = []
    prompt_tokens: list[int] = []
    try:
        with httpx.Client(timeout=300) as client:
            # The first question is a warm-up for both paths (not recorded): first-call costs
            # (graph allocation, caches) would otherwise land on whichever path went first.
            unused = [q for q, _, _ in SAMPLE_QUESTIONS if q not in questions]
            warm_up = unused[0] if unused else questions[-1]
            for index, question in enumerate([warm_up, *questions]):
                question = question.strip()  # as the API's clean_query does
                passages = asyncio.run(services.answers.passages(question, settings.ask_top_k))
                if not passages:
                    raise SystemExit(f"no passages for {question!r}: nothing to compare")
                messages = build_messages(question, passages)
                # What our `sources` event must carry if it used these passages.
                sources = json.loads(msgspec.json.encode(sources_out([p.hit for p in passages])))
                for name in ("ours", "bare") if index % 2 == 0 else ("bare", "ours"):
                    if name == "ours":
                        result = ask_ours(client, url, question, sources)
                    else:
                        result = ask_bare(bare, messages, options)
                    if index:
                        (ours if name == "ours" else bares).append(result)
                    if index and name == "bare":
                        # Prompt size, read once the measurement is done: the prompt is in
                        # the bare model's cache now, so this costs one token's evaluation.
                        usage: Any = bare.create_chat_completion(messages=messages, max_tokens=1)
                        prompt_tokens.append(usage["usage"]["prompt_tokens"])
                    label = f"q{index}" if index else "warm-up"
                    print(
                        f"{label} {name}: ttft {result.ttft * 1000:.0f} ms, {result.tokens} "
                        f"tokens, {result.decode or 0:.1f} tok/s",
                        file=log,
                    )
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        bare.close()
        services.close()
    info = {
        "options": options,
        "passages": settings.ask_top_k,
        "prompt_tokens": prompt_tokens,
        "load": load_span(load_before),
    }
    return ours, bares, info


def report(ours: list[Run], bare: list[Run], info: dict[str, Any], settings: Settings) -> None:
    def ms(values: list[float], q: float) -> float:
        return percentile([v * 1000 for v in values], q)

    def row(name: str, runs: list[Run]) -> list[object]:
        ttft = [r.ttft for r in runs]
        rates = [r.decode for r in runs if r.decode]
        return [
            name,
            ms(ttft, 50),
            ms(ttft, 95),
            percentile(rates, 50) if rates else None,
            statistics.mean(r.tokens for r in runs),
            ms([r.total for r in runs], 50),
        ]

    options = info["options"]
    print(f"\nbench/ask.py — {machine()}")
    print(f"load average (1 min) before/after the questions: {info['load']}")
    print(
        f"model {settings.llm_path().name}, n_ctx {settings.llm_context_size}, "
        f"n_threads {settings.llm_threads}; max_tokens {options.max_tokens}, temperature "
        f"{options.temperature}, repeat_penalty {options.repeat_penalty}; "
        f"{len(ours)} questions × {info['passages']} passages, after 1 warm-up question"
    )
    sizes = info["prompt_tokens"]
    print(
        f"prompt (chat template applied): {statistics.median(sizes):.0f} tokens median, "
        f"{min(sizes)}–{max(sizes)}\n"
    )
    headers = ["path", "TTFT p50 ms", "TTFT p95 ms", "tokens/s p50", "tokens mean", "total p50 ms"]
    rows = [row("ours: POST /api/ask (SSE)", ours), row("bare: Llama.create_chat_completion", bare)]
    print(table(headers, rows))
    p50 = ms([r.ttft for r in ours], 50) / ms([r.ttft for r in bare], 50)
    p95 = ms([r.ttft for r in ours], 95) / ms([r.ttft for r in bare], 95)
    print(f"\nours/bare TTFT: p50 {p50:.2f}, p95 {p95:.2f}")
    paired = [(o.ttft - b.ttft) * 1000 for o, b in zip(ours, bare, strict=True)]
    print(
        f"ours − bare TTFT, paired by question: median {statistics.median(paired):+.0f} ms "
        f"(from {min(paired):+.0f} to {max(paired):+.0f} ms)"
    )
    ours_rate = percentile([r.decode for r in ours if r.decode], 50)
    bare_rate = percentile([r.decode for r in bare if r.decode], 50)
    print(f"ours/bare tokens/s p50: {ours_rate / bare_rate:.2f}")
    timed = [r for r in ours if r.server and r.server.get("first_token_ms") is not None]
    retrieval = percentile([r.server["retrieval_ms"] for r in timed if r.server], 50)
    first = percentile([r.server["first_token_ms"] for r in timed if r.server], 50)
    transport = percentile(
        [r.ttft * 1000 - r.server["first_token_ms"] for r in timed if r.server], 50
    )
    print(
        f"ours, where TTFT goes (p50): retrieval {retrieval:.0f} ms and first token at "
        f"{first:.0f} ms by the service's own clock (done.timing); HTTP + SSE + client "
        f"(TTFT − that) {transport:.0f} ms"
    )
    same = sum(o.text == b.text for o, b in zip(ours, bare, strict=True))
    print(f"identical answer text, ours vs bare: {same}/{len(ours)}")
    print(
        "TTFT: request sent → first `token` event (ours) / call → first non-empty delta (bare); "
        "tokens/s: (tokens − 1) / (last token − first token), per question"
    )


if __name__ == "__main__":
    main()
