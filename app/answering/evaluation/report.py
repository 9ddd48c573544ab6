"""Scores of a run: the JSON summary, the terminal tables, and the comparison with a baseline.

The JSON file is `{"retrieval": {...}, "answers": {...} | null, "latency_ms": {"p50", "p95"},
"mode", "n_questions", "details": {...}}`. Retrieval metrics are over the answerable questions
(an unanswerable question has no passage that answers it); `latency_ms` is per question
retrieval (embedding the question and searching), and answer latencies are in `details`.
"""

import json
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from app.answering.evaluation import metrics
from app.answering.evaluation.runner import EvalRun, QuestionResult

RETRIEVAL_KEYS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
ANSWER_KEYS = ("f1", "rougeL", "abstain_f1", "citation_precision")
# Compared with the baseline: higher is better, and a drop beyond the tolerance fails.
QUALITY_SECTIONS = {"retrieval": RETRIEVAL_KEYS, "answers": ANSWER_KEYS}


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def retrieval_scores(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    scored = [r for r in results if r.question.answerable and r.question.gold_passage_ids]
    if not scored:
        return dict.fromkeys(RETRIEVAL_KEYS)

    def average(score: Callable[[Sequence[str], Collection[str]], float]) -> float | None:
        return _round(metrics.mean([score(r.ranked, r.question.gold_passage_ids) for r in scored]))

    return {
        "recall@1": average(lambda ranked, gold: metrics.recall_at_k(ranked, gold, 1)),
        "recall@5": average(lambda ranked, gold: metrics.recall_at_k(ranked, gold, 5)),
        "recall@10": average(lambda ranked, gold: metrics.recall_at_k(ranked, gold, 10)),
        "mrr@10": average(lambda ranked, gold: metrics.mrr_at_k(ranked, gold, 10)),
        "ndcg@10": average(lambda ranked, gold: metrics.ndcg_at_k(ranked, gold, 10)),
    }


@dataclass(frozen=True)
class AnswerScores:
    f1: float | None
    rouge_l: float | None
    abstention: metrics.PRF | None
    citation_precision: float | None
    citations: int

    def as_json(self) -> dict[str, float | None]:
        return {
            "f1": _round(self.f1),
            "rougeL": _round(self.rouge_l),
            "abstain_f1": _round(self.abstention.f1) if self.abstention else None,
            "citation_precision": _round(self.citation_precision),
        }


def _prediction(result: QuestionResult) -> str:
    """What is scored against the references: nothing when the service abstained."""
    if result.abstained or not result.answer:
        return ""
    return metrics.strip_citation_markers(result.answer)


def answer_scores(results: Sequence[QuestionResult]) -> AnswerScores:
    referenced = [r for r in results if r.question.answerable and r.question.answers]

    def average(score: metrics.ScoreFunction) -> float | None:
        if not referenced:
            return None
        return metrics.mean(
            [metrics.best_score(score, _prediction(r), r.question.answers) for r in referenced]
        )

    has_unanswerable = any(not r.question.answerable for r in results)
    abstention = (
        metrics.precision_recall_f1(
            [bool(r.abstained) for r in results], [not r.question.answerable for r in results]
        )
        if has_unanswerable
        else None
    )
    cited = [r for r in results if r.question.answerable and r.question.gold_passage_ids]
    precision = (
        metrics.citation_precision(
            [r.cited for r in cited], [set(r.question.gold_passage_ids) for r in cited]
        )
        if cited
        else None
    )
    return AnswerScores(
        f1=average(metrics.token_f1),
        rouge_l=average(metrics.rouge_l),
        abstention=abstention,
        citation_precision=precision,
        citations=sum(len(r.cited) for r in cited),
    )


def latency(values: Sequence[float | None]) -> dict[str, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return {"p50": None, "p95": None}
    return {
        "p50": round(metrics.percentile(present, 50), 1),
        "p95": round(metrics.percentile(present, 95), 1),
    }


def _distribution(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": _round(min(values)),
        "p25": _round(metrics.percentile(values, 25)),
        "p50": _round(metrics.percentile(values, 50)),
        "p75": _round(metrics.percentile(values, 75)),
        "max": _round(max(values)),
        "mean": _round(metrics.mean(values)),
    }


def calibration(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """The best relevance among the k retrieved chunks (the top hit's, in dense mode) for
    answerable and unanswerable questions, and the thresholds that would best separate them
    if retrieval alone decided: on that relevance (ENCLAVE_MIN_RELEVANCE), and on the
    answerability score (ENCLAVE_MIN_ANSWERABILITY, app/answerability.py)."""
    summary: dict[str, Any] = {
        "top_relevance_answerable": _distribution(_scores(results, "top_relevance", True)),
        "top_relevance_unanswerable": _distribution(_scores(results, "top_relevance", False)),
        "best_threshold": _best_threshold(results, "top_relevance", "min_relevance"),
        "best_answerability_threshold": _best_threshold(
            results, "answerability", "min_answerability"
        ),
    }
    return summary


def _scores(results: Sequence[QuestionResult], signal: str, answerable: bool) -> list[float]:
    return [getattr(r, signal) for r in results if r.question.answerable == answerable]


def _best_threshold(
    results: Sequence[QuestionResult], signal: str, setting: str
) -> dict[str, float | None] | None:
    unanswerable = _scores(results, signal, False)
    if not unanswerable:
        return None
    best = metrics.best_abstention_threshold(_scores(results, signal, True), unanswerable)
    return {
        setting: _round(best.value),
        "abstain_precision": _round(best.scores.precision),
        "abstain_recall": _round(best.scores.recall),
        "abstain_f1": _round(best.scores.f1),
    }


def summarize(run: EvalRun) -> dict[str, Any]:
    """The JSON summary of a run (the shape --json writes and --baseline reads)."""
    results = run.results
    answers = answer_scores(results) if run.answered else None
    details: dict[str, Any] = {
        "dataset": run.dataset.name,
        "format": run.dataset.format.value,
        "collection": run.index.collection,
        "passages": run.index.passages,
        "chunks": run.index.chunks,
        "index_reused": run.index.reused,
        "index_seconds": round(run.index.seconds, 1),
        "n_answerable": sum(r.question.answerable for r in results),
        "n_unanswerable": sum(not r.question.answerable for r in results),
        "k": run.k,
        **run.setup,
        "calibration": calibration(results),
    }
    if answers is not None:
        details["abstain_precision"] = (
            _round(answers.abstention.precision) if answers.abstention else None
        )
        details["abstain_recall"] = (
            _round(answers.abstention.recall) if answers.abstention else None
        )
        details["abstained"] = sum(bool(r.abstained) for r in results)
        details["abstention_reasons"] = dict(
            Counter(r.abstention_reason for r in results if r.abstention_reason)
        )
        details["citations"] = answers.citations
        details["answer_latency_ms"] = latency([r.answer_ms for r in results])
        details["first_token_ms"] = latency([r.first_token_ms for r in results])
    return {
        "retrieval": retrieval_scores(results),
        "answers": answers.as_json() if answers else None,
        "latency_ms": latency([r.retrieval_ms for r in results]),
        "mode": run.mode.value,
        "n_questions": len(results),
        "details": details,
    }


def write_json(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


# -- tables ---------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_tables(summary: dict[str, Any], console: Console) -> None:
    details = summary["details"]
    reused = "reused" if details["index_reused"] else f"built in {details['index_seconds']} s"
    console.print(
        f"[bold]{details['dataset']}[/bold] ({details['format']}) · mode {summary['mode']} · "
        f"{summary['n_questions']} questions ({details['n_answerable']} answerable, "
        f"{details['n_unanswerable']} unanswerable) · {details['passages']} passages in "
        f"{details['chunks']} chunks, collection {details['collection']} ({reused})"
    )
    retrieval = Table(title=f"Retrieval ({details['n_answerable']} answerable questions)")
    for key in RETRIEVAL_KEYS:
        retrieval.add_column(key, justify="right")
    retrieval.add_row(*(_fmt(summary["retrieval"][key]) for key in RETRIEVAL_KEYS))
    console.print(retrieval)

    answers = summary["answers"]
    if answers is not None:
        n_answerable, n_unanswerable = details["n_answerable"], details["n_unanswerable"]
        quality = Table(
            title=f"Answers ({n_answerable} answerable questions, k={details['k']} passages)"
        )
        for column in ("token F1", "ROUGE-L", "citation precision", "citations"):
            quality.add_column(column, justify="right")
        quality.add_row(
            _fmt(answers["f1"]),
            _fmt(answers["rougeL"]),
            _fmt(answers["citation_precision"]),
            str(details["citations"]),
        )
        console.print(quality)
        abstention = Table(title=f"Abstention ({n_unanswerable} unanswerable questions)")
        for column in ("precision", "recall", "F1", "abstained"):
            abstention.add_column(column, justify="right")
        abstention.add_row(
            _fmt(details["abstain_precision"]),
            _fmt(details["abstain_recall"]),
            _fmt(answers["abstain_f1"]),
            f"{details['abstained']}/{summary['n_questions']}",
        )
        console.print(abstention)
        reasons = details["abstention_reasons"]
        if reasons:
            console.print(
                "Abstentions by reason: "
                + ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
            )

    timing = Table(title="Latency (ms)")
    for column in ("", "p50", "p95"):
        timing.add_column(column, justify="right")
    timing.add_row(
        "retrieval", _fmt(summary["latency_ms"]["p50"], 1), _fmt(summary["latency_ms"]["p95"], 1)
    )
    if answers is not None:
        for name, key in (("first token", "first_token_ms"), ("answer", "answer_latency_ms")):
            timing.add_row(name, _fmt(details[key]["p50"], 1), _fmt(details[key]["p95"], 1))
    console.print(timing)
    _print_calibration(details["calibration"], console)


def _print_calibration(calibration: dict[str, Any], console: Console) -> None:
    table = Table(title="Best relevance (cosine) among the k hits, by question kind")
    columns = ("n", "min", "p25", "p50", "p75", "max", "mean")
    table.add_column("questions")
    for column in columns:
        table.add_column(column, justify="right")
    for name in ("answerable", "unanswerable"):
        stats = calibration[f"top_relevance_{name}"]
        table.add_row(name, *(_fmt(stats.get(column)) for column in columns))
    console.print(table)
    best = calibration["best_threshold"]
    if best is not None:
        console.print(
            f"Abstaining when no hit's relevance reaches {best['min_relevance']:.3f} "
            f"would give abstention P {best['abstain_precision']:.3f} / R "
            f"{best['abstain_recall']:.3f} / F1 {best['abstain_f1']:.3f} on retrieval alone "
            "(ENCLAVE_MIN_RELEVANCE)."
        )
    best = calibration["best_answerability_threshold"]
    if best is not None:
        console.print(
            f"Abstaining when the answerability score is below {best['min_answerability']:.3f} "
            f"would give abstention P {best['abstain_precision']:.3f} / R "
            f"{best['abstain_recall']:.3f} / F1 {best['abstain_f1']:.3f} before generation "
            "(ENCLAVE_MIN_ANSWERABILITY)."
        )


# -- baseline -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delta:
    metric: str
    baseline: float
    current: float
    quality: bool  # False: a latency, reported only
    regression: bool

    @property
    def change(self) -> float:
        return self.current - self.baseline


class BaselineError(ValueError):
    """The baseline file cannot be read as an earlier run's JSON."""


def load_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise BaselineError(f"Cannot read the baseline {path}: {error}") from error
    if not isinstance(data, dict) or not any(
        isinstance(data.get(section), dict) for section in (*QUALITY_SECTIONS, "latency_ms")
    ):
        raise BaselineError(
            f"{path} is not an `enclave eval --json` file (no retrieval, answers or latency_ms)"
        )
    return data


def _number(section: Any, key: str) -> float | None:
    value = section.get(key) if isinstance(section, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def compare(current: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> list[Delta]:
    """Every metric present in both runs. A quality metric that dropped by more than
    `tolerance` (absolute) is a regression; latencies are only reported (too noisy to gate)."""
    deltas = []
    for section, keys in QUALITY_SECTIONS.items():
        for key in keys:
            now, before = _number(current.get(section), key), _number(baseline.get(section), key)
            if now is not None and before is not None:
                regression = before - now > tolerance + 1e-12
                deltas.append(Delta(f"{section}.{key}", before, now, True, regression))
    for key in ("p50", "p95"):
        now, before = (
            _number(current.get("latency_ms"), key),
            _number(baseline.get("latency_ms"), key),
        )
        if now is not None and before is not None:
            deltas.append(Delta(f"latency_ms.{key}", before, now, False, False))
    return deltas


def setup_differences(current: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """What makes the two runs not directly comparable (said, not failed on)."""
    notes = []
    for key in ("mode", "n_questions"):
        if key in baseline and baseline[key] != current.get(key):
            notes.append(f"{key}: baseline {baseline[key]}, now {current.get(key)}")
    before, now = baseline.get("details") or {}, current.get("details") or {}
    for key in ("dataset", "k", "embedder", "llm", "temperature"):
        if key in before and key in now and before[key] != now[key]:
            notes.append(f"{key}: baseline {before[key]}, now {now[key]}")
    if isinstance(baseline.get("answers"), dict) and current.get("answers") is None:
        notes.append("answers: the baseline has answer metrics (run with --answers to gate them)")
    return notes


def print_comparison(
    deltas: Sequence[Delta], notes: Sequence[str], tolerance: float, console: Console
) -> None:
    table = Table(title=f"Against the baseline (tolerance {tolerance:g})")
    for column in ("metric", "baseline", "now", "change", ""):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for delta in deltas:
        digits = 3 if delta.quality else 1
        if delta.regression:
            verdict = "[red]REGRESSION[/red]"
        elif not delta.quality:
            verdict = "(not gated)"
        else:
            verdict = "ok"
        table.add_row(
            delta.metric,
            _fmt(delta.baseline, digits),
            _fmt(delta.current, digits),
            f"{delta.change:+.{digits}f}",
            verdict,
        )
    console.print(table)
    for note in notes:
        console.print(f"[yellow]note:[/yellow] runs differ in {note}")
