"""`enclave eval`: metrics against hand-computed values, the three dataset loaders, and the
command end to end on a ClapNQ subset with the real embedder, store and (tiny) llama.cpp."""

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from app.answering.evaluation import metrics
from app.answering.evaluation.datasets import (
    DatasetError,
    DatasetFormat,
    detect_format,
    load_dataset,
    passage_id,
)
from cli.main import main
from tests.conftest import SHARED

if TYPE_CHECKING:
    pass

CLAPNQ = SHARED / "eval" / "clapnq-dev"
CLAPNQ_FILES = ("clapnq_dev_answerable.jsonl", "clapnq_dev_unanswerable.jsonl")


def _needs_clapnq() -> None:
    if not all((CLAPNQ / name).is_file() for name in CLAPNQ_FILES):
        pytest.skip(f"ClapNQ dev set not found at {CLAPNQ} (../shared/eval/clapnq-dev)")


# -- metrics --------------------------------------------------------------------------------


def test_recall_counts_gold_passages_in_the_first_k() -> None:
    ranked = ["a", "b", "c"]
    assert metrics.recall_at_k(ranked, {"c"}, 2) == 0.0
    assert metrics.recall_at_k(ranked, {"c"}, 3) == 1.0
    assert metrics.recall_at_k(ranked, {"a", "z"}, 1) == 0.5
    with pytest.raises(ValueError):
        metrics.recall_at_k(ranked, set(), 1)


def test_mrr_is_the_reciprocal_rank_of_the_first_gold_passage() -> None:
    assert metrics.mrr_at_k(["x", "g", "h"], {"g", "h"}) == 0.5
    assert metrics.mrr_at_k(["x", "y", "g"], {"g"}, k=2) == 0.0
    assert metrics.mrr_at_k([f"x{i}" for i in range(9)] + ["g"], {"g"}) == 0.1


def test_ndcg_discounts_by_log_rank_against_the_ideal_order() -> None:
    assert metrics.ndcg_at_k(["g", "x"], {"g"}) == 1.0
    assert metrics.ndcg_at_k(["x", "g"], {"g"}) == pytest.approx(1 / math.log2(3))
    # Two gold passages at ranks 1 and 3: (1 + 1/2) / (1 + 1/log2 3).
    expected = 1.5 / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at_k(["g", "x", "h"], {"g", "h"}) == pytest.approx(expected)
    assert metrics.ndcg_at_k(["x"] * 10 + ["g"], {"g"}) == 0.0


def test_token_f1_normalises_like_squad() -> None:
    assert metrics.normalize_answer("The  Cat, sat!") == "cat sat"
    # "cat sat" against "cat sat down": precision 1, recall 2/3.
    assert metrics.token_f1("The cat sat.", "a cat sat down") == pytest.approx(0.8)
    assert metrics.token_f1("dog", "cat") == 0.0
    assert metrics.token_f1("", "") == 1.0
    assert metrics.token_f1("the", "cat") == 0.0  # only an article: no tokens
    assert metrics.best_score(metrics.token_f1, "cat", ["dog", "the cat"]) == 1.0
    # Enclave's [n] markers are not part of the answer's words.
    answer = metrics.strip_citation_markers("Managers sign expenses [1] [2].")
    assert metrics.token_f1(answer, "managers sign expenses") == 1.0


def test_rouge_l_uses_the_longest_common_subsequence() -> None:
    # Same bag of words, different order: token F1 is 1, the LCS is 2 of 3 tokens.
    assert metrics.token_f1("x y z", "y x z") == 1.0
    assert metrics.rouge_l("x y z", "y x z") == pytest.approx(2 / 3)
    # "cat sat on mat" vs "cat on mat": LCS 3, precision 3/4, recall 1.
    assert metrics.rouge_l("the cat sat on the mat", "cat on the mat") == pytest.approx(6 / 7)
    assert metrics.rouge_l("dog", "cat") == 0.0


def test_abstention_precision_recall_f1() -> None:
    scores = metrics.precision_recall_f1([True, True, False, False], [True, False, True, False])
    assert (scores.precision, scores.recall, scores.f1) == (0.5, 0.5, 0.5)
    never = metrics.precision_recall_f1([False, False], [True, False])
    assert (never.precision, never.recall, never.f1) == (0.0, 0.0, 0.0)
    perfect = metrics.precision_recall_f1([True, False], [True, False])
    assert perfect.f1 == 1.0


def test_citation_precision_is_micro_averaged_over_citations() -> None:
    cited = [["g", "x"], ["y"], []]
    gold = [{"g"}, {"y"}, {"z"}]
    assert metrics.citation_precision(cited, gold) == pytest.approx(2 / 3)
    assert metrics.citation_precision([[], []], [{"g"}, {"h"}]) == 0.0


def test_best_threshold_separates_unanswerable_questions() -> None:
    best = metrics.best_abstention_threshold([0.8, 0.9], [0.2, 0.5])
    assert best.value == pytest.approx(0.65) and best.scores.f1 == 1.0
    # Overlapping: declining below 0.85 catches both unanswerable questions and one
    # answerable (P 2/3, R 1, F1 0.8); no threshold does better.
    overlap = metrics.best_abstention_threshold([0.7, 0.9], [0.6, 0.8])
    assert overlap.scores.f1 == pytest.approx(0.8)
    assert overlap.value == pytest.approx(0.85)


def test_percentiles_match_numpy() -> None:
    assert metrics.percentile([1, 2, 3, 4], 50) == 2.5
    assert metrics.percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    values = [12.0, 3.5, 7.25, 100.0, 41.0, 8.0, 8.0]
    for q in (0, 25, 50, 95, 100):
        assert metrics.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


# -- loaders --------------------------------------------------------------------------------


def _write_lines(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_jsonl_loader_reads_passages_gold_ids_and_gold_texts(tmp_path: Path) -> None:
    path = _write_lines(
        tmp_path / "handbook.jsonl",
        [
            {"id": "p1", "title": "Leave", "text": "Employees get 25 days of paid leave."},
            {"id": "q1", "question": "How many days?", "gold_passage_ids": ["p1"],
             "answers": ["25 days"]},
            {"question": "Who signs expenses?", "gold_passages": [
                {"title": "Expenses", "text": "Managers sign expenses."}], "answer": "Managers"},
            {"question": "Who was our first customer?", "answerable": False},
            {"id": "p2", "title": "Travel", "text": "Book trains for trips under 500 km."},
        ],
    )  # fmt: skip
    assert detect_format(path) == DatasetFormat.JSONL
    dataset = load_dataset(path)
    assert dataset.name == "handbook"
    assert [p.id for p in dataset.passages] == [
        "p1",
        "p2",
        passage_id("Expenses", "Managers sign expenses."),
    ]
    q1, q2, q3 = dataset.questions
    assert (q1.id, q1.gold_passage_ids, q1.answers, q1.answerable) == (
        "q1",
        ("p1",),
        ("25 days",),
        True,
    )
    assert q2.id == "q2" and q2.answers == ("Managers",) and q2.answerable
    assert q2.gold_passage_ids == (passage_id("Expenses", "Managers sign expenses."),)
    assert q3.answerable is False and q3.gold_passage_ids == () and q3.answers == ()


def test_jsonl_loader_says_which_line_is_wrong(tmp_path: Path) -> None:
    unknown = _write_lines(
        tmp_path / "a.jsonl", [{"question": "Where?", "gold_passage_ids": ["nope"]}]
    )
    with pytest.raises(DatasetError, match=r"a\.jsonl:1: no passage line has the id\(s\) nope"):
        load_dataset(unknown)
    broken = tmp_path / "b.jsonl"
    broken.write_text('{"question": "ok?", "answers": ["yes"]}\n{not json\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"b\.jsonl:2: not JSON"):
        load_dataset(broken)
    neither = _write_lines(tmp_path / "c.jsonl", [{"title": "no text"}])
    with pytest.raises(DatasetError, match="Cannot tell the format"):
        load_dataset(neither)


def test_squad2_loader_takes_paragraphs_as_passages(tmp_path: Path) -> None:
    squad = {
        "version": "v2.0",
        "data": [
            {
                "title": "Normans",
                "paragraphs": [
                    {
                        "context": "The Normans gave their name to Normandy.",
                        "qas": [
                            {"id": "a1", "question": "What is named after the Normans?",
                             "answers": [{"text": "Normandy", "answer_start": 31},
                                         {"text": "Normandy", "answer_start": 31}],
                             "is_impossible": False},
                            {"id": "a2", "question": "Who named Paris?", "answers": [],
                             "plausible_answers": [{"text": "Normans", "answer_start": 4}],
                             "is_impossible": True},
                        ],
                    },
                    {"context": "Rollo was their first ruler.",
                     "qas": [{"id": "a3", "question": "Who was the first ruler?",
                              "answers": [{"text": "Rollo", "answer_start": 0}]}]},
                ],
            }
        ],
    }  # fmt: skip
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    assert detect_format(path) == DatasetFormat.SQUAD2
    dataset = load_dataset(path)
    assert [p.title for p in dataset.passages] == ["Normans", "Normans"]
    first, second = dataset.passages
    a1, a2, a3 = dataset.questions
    assert a1.answers == ("Normandy",) and a1.gold_passage_ids == (first.id,) and a1.answerable
    assert a2.answerable is False and a2.answers == () and a2.gold_passage_ids == (first.id,)
    assert a3.gold_passage_ids == (second.id,) and a3.answers == ("Rollo",)


def _clapnq_record(
    id_: str, question: str, title: str, text: str, answers: list[str]
) -> dict[str, Any]:
    return {
        "id": id_,
        "input": question,
        "passages": [{"title": title, "text": text, "sentences": [text]}],
        "output": [{"answer": a, "selected_sentences": [], "meta": {}} for a in answers],
    }


def test_clapnq_loader_on_a_small_file(tmp_path: Path) -> None:
    text = "Mustangs are free-roaming horses of the American west."
    path = _write_lines(
        tmp_path / "mini.jsonl",
        [
            _clapnq_record("1", "what is a mustang", "Mustang", text, ["A wild horse.", "A horse"]),
            _clapnq_record("2", "where do mustangs live", "Mustang", text, ["The west."]),
            _clapnq_record("3", "who owns the mustangs", "Mustang", "Other text.", [""]),
        ],
    )
    assert detect_format(path) == DatasetFormat.CLAPNQ
    dataset = load_dataset(path)
    assert len(dataset.passages) == 2  # the shared passage once
    one, two, three = dataset.questions
    assert one.answers == ("A wild horse.", "A horse") and one.answerable
    assert one.gold_passage_ids == two.gold_passage_ids == (passage_id("Mustang", text),)
    assert three.answerable is False and three.answers == ()
    # A forced format that does not fit is a clear error, not a traceback.
    with pytest.raises(DatasetError, match=r"mini\.jsonl: not a JSON file"):
        load_dataset(path, DatasetFormat.SQUAD2)


def test_real_clapnq_dev_folder() -> None:
    _needs_clapnq()
    assert detect_format(CLAPNQ) == DatasetFormat.CLAPNQ
    dataset = load_dataset(CLAPNQ)
    assert dataset.name == "clapnq-dev"
    assert len(dataset.answerable) == 300 and len(dataset.unanswerable) == 300
    assert len(dataset.passages) == 597
    assert all(q.answers for q in dataset.answerable)
    passage_ids = {p.id for p in dataset.passages}
    assert all(q.gold_passage_ids[0] in passage_ids for q in dataset.questions)
    limited = dataset.limited(25)
    assert len(limited.answerable) == 25 and len(limited.unanswerable) == 25
    assert limited.answerable == dataset.answerable[:25]
    assert limited.passages == dataset.passages  # the corpus stays whole


def test_fingerprint_follows_the_embedder_and_the_chunks() -> None:
    from app.answering.evaluation.runner import PassageChunk, fingerprint
    from enclave.settings import Settings
    from enclave.vectorstore import ChunkRecord

    def chunk(text: str) -> PassageChunk:
        record = ChunkRecord("p1", 0, text, "Title", "set", None, "", "eval")
        return PassageChunk(record, f"Title\n{text}")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    onnx = settings.model_copy(update={"embedding_backend": "torch"})
    same = fingerprint(settings, [chunk("one")])
    assert same == fingerprint(settings, [chunk("one")])
    assert same != fingerprint(settings, [chunk("two")])
    assert same != fingerprint(onnx, [chunk("one")])


# -- the command, end to end ----------------------------------------------------------------


def invoke(args: list[str], data_dir: Path, **env: str) -> Result:
    """`enclave ...` in this process (the embedder's import is paid once per session)."""
    environment = {"ENCLAVE_DATA_DIR": str(data_dir), "ENCLAVE_LLM_THREADS": "1", **env}
    return CliRunner().invoke(main, args, env=environment, catch_exceptions=False)


@pytest.fixture(scope="module")
def clapnq_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 12 records of each ClapNQ dev file: 24 questions over 24 passages."""
    _needs_clapnq()
    folder = tmp_path_factory.mktemp("data") / "clapnq-mini"
    folder.mkdir()
    for name in CLAPNQ_FILES:
        lines = (CLAPNQ / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (folder / name).write_text("".join(lines[:12]), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def first_run(
    clapnq_subset: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("var")
    out = data_dir / "scores.json"
    result = invoke(
        ["eval", str(clapnq_subset), "--mode", "dense", "--limit", "8", "--json", str(out)],
        data_dir,
    )
    assert result.exit_code == 0, result.output
    assert "recall@10" in result.stdout and "Best relevance" in result.stdout
    assert "(ENCLAVE_MIN_ANSWERABILITY)" in result.stdout
    return data_dir, json.loads(out.read_text())


def test_eval_writes_the_documented_json(first_run: tuple[Path, dict[str, Any]]) -> None:
    data_dir, scores = first_run
    assert set(scores) == {
        "retrieval", "answers", "latency_ms", "mode", "n_questions", "details",
    }  # fmt: skip
    assert set(scores["retrieval"]) == {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"}
    assert set(scores["latency_ms"]) == {"p50", "p95"}
    assert scores["answers"] is None  # no --answers
    assert scores["mode"] == "dense" and scores["n_questions"] == 16
    retrieval = scores["retrieval"]
    assert retrieval["recall@10"] > 0.5
    assert retrieval["recall@1"] <= retrieval["recall@5"] <= retrieval["recall@10"] <= 1.0
    assert retrieval["recall@1"] <= retrieval["mrr@10"] <= retrieval["recall@10"]
    assert 0 < scores["latency_ms"]["p50"] <= scores["latency_ms"]["p95"]
    details = scores["details"]
    assert details["n_answerable"] == details["n_unanswerable"] == 8
    assert details["passages"] == 24 and details["chunks"] >= 24
    assert details["index_reused"] is False
    assert details["collection"].startswith("eval_clapnq-mini_")
    assert "minilm" in details["embedder"].lower()
    calibration = details["calibration"]
    assert calibration["top_relevance_answerable"]["n"] == 8
    assert calibration["best_threshold"]["abstain_f1"] > 0
    # The answerability score is calibrated the same way, for ENCLAVE_MIN_ANSWERABILITY.
    answerability = calibration["best_answerability_threshold"]
    assert 0 < answerability["min_answerability"] < 1 and answerability["abstain_f1"] > 0
    # Its own collection in its own folder: the main index was never created.
    assert (data_dir / "eval" / "qdrant").is_dir()
    assert not (data_dir / "qdrant").exists()


def test_compare_flags_only_drops_beyond_the_tolerance() -> None:
    from app.answering.evaluation.report import compare

    baseline = {
        "retrieval": {"recall@1": 0.80, "recall@5": 0.90, "mrr@10": 0.85},
        "answers": {"f1": 0.40, "rougeL": None},
        "latency_ms": {"p50": 10.0, "p95": 20.0},
    }
    current = {
        "retrieval": {"recall@1": 0.79, "recall@5": 0.85, "mrr@10": 0.95},
        "answers": {"f1": 0.37, "rougeL": 0.3},
        "latency_ms": {"p50": 50.0, "p95": 90.0},
    }
    deltas = {d.metric: d for d in compare(current, baseline, tolerance=0.02)}
    assert set(deltas) == {
        "retrieval.recall@1", "retrieval.recall@5", "retrieval.mrr@10", "answers.f1",
        "latency_ms.p50", "latency_ms.p95",
    }  # fmt: skip
    assert [m for m, d in deltas.items() if d.regression] == ["retrieval.recall@5", "answers.f1"]
    assert deltas["retrieval.mrr@10"].change == pytest.approx(0.10)
    assert not deltas["latency_ms.p95"].regression  # slower, but latency is not gated


def test_baseline_gates_a_regression(
    first_run: tuple[Path, dict[str, Any]], clapnq_subset: Path, tmp_path: Path
) -> None:
    data_dir, scores = first_run
    baseline = json.loads(json.dumps(scores))
    baseline["retrieval"]["recall@10"] += 0.01  # within the default tolerance of 0.02
    baseline["retrieval"]["mrr@10"] += 0.05  # beyond it
    (tmp_path / "better.json").write_text(json.dumps(baseline))
    again = tmp_path / "again.json"
    failed = invoke(
        ["eval", str(clapnq_subset), "--mode", "dense", "--limit", "8", "--no-progress",
         "--baseline", str(tmp_path / "better.json"), "--json", str(again)],
        data_dir,
    )  # fmt: skip
    assert failed.exit_code == 1, failed.output
    assert "REGRESSION" in failed.stdout
    assert "regression beyond 0.02: retrieval.mrr@10\n" in failed.stderr
    # The second run reused the index and, on the same questions, scored the same.
    rerun = json.loads(again.read_text())
    assert rerun["details"]["index_reused"] is True
    assert rerun["retrieval"] == scores["retrieval"]


def test_answers_run_through_llama_cpp(
    first_run: tuple[Path, dict[str, Any]], clapnq_subset: Path, tiny_gguf: Path, tmp_path: Path
) -> None:
    """Structure only: the tiny random model writes noise, but every question goes through
    the real answer service and every answer metric comes out."""
    data_dir, _ = first_run
    out = tmp_path / "answers.json"
    (tmp_path / "baseline.json").write_text(json.dumps(first_run[1]))
    result = invoke(
        ["eval", str(clapnq_subset), "--mode", "dense", "--answers", "--limit", "2", "--k", "2",
         "--json", str(out), "--no-progress", "--baseline", str(tmp_path / "baseline.json"),
         "--tolerance", "1"],
        data_dir,
        ENCLAVE_LLM_MODEL_PATH=str(tiny_gguf),
        ENCLAVE_LLM_CONTEXT_SIZE="2048",
        ENCLAVE_LLM_MAX_TOKENS="16",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["n_questions"] == 4
    assert set(scores["answers"]) == {"f1", "rougeL", "abstain_f1", "citation_precision"}
    for key in ("f1", "rougeL", "abstain_f1", "citation_precision"):
        assert 0.0 <= scores["answers"][key] <= 1.0
    details = scores["details"]
    assert details["index_reused"] is True
    assert details["answer_latency_ms"]["p50"] > 0
    assert details["llm"] == tiny_gguf.name and details["temperature"] == 0.0  # greedy
    # Some questions reached llama.cpp (a first token), not only the relevance threshold.
    assert details["first_token_ms"]["p50"] is not None
    assert details["abstained"] == sum(details["abstention_reasons"].values())
    assert "Answers (2 answerable questions, k=2 passages)" in result.stdout
    # Compared with the retrieval-only run: within a tolerance of 1 nothing fails, and the
    # differences in set-up are said.
    assert "Against the baseline" in result.stdout and "n_questions: baseline 16" in result.stdout


def test_bad_inputs_are_reported_without_a_traceback(tmp_path: Path) -> None:
    missing = invoke(["eval", str(tmp_path / "nope.jsonl")], tmp_path)
    assert missing.exit_code == 2 and "No such file or folder" in missing.stderr
    dataset = _write_lines(tmp_path / "d.jsonl", [{"question": "q?", "answers": ["a"]}])
    (tmp_path / "base.json").write_text("[1, 2]")
    bad_baseline = invoke(
        ["eval", str(dataset), "--baseline", str(tmp_path / "base.json")], tmp_path
    )
    assert (
        bad_baseline.exit_code == 2 and "not an `enclave eval --json` file" in bad_baseline.stderr
    )
    no_passages = invoke(["eval", str(dataset)], tmp_path)
    assert no_passages.exit_code == 2 and "holds no passages" in no_passages.stderr
