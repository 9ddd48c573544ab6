"""Evaluation metrics as pure functions: ranked passage ids in, numbers out.

Retrieval metrics use binary relevance (a passage is gold or it is not). Answer metrics follow
the SQuAD evaluation script's normalisation (lower case, no punctuation, no articles a/an/the,
single spaces), so token F1 matches published numbers; ROUGE-L is the F-measure (beta 1) of
the longest common subsequence of those normalised tokens.
"""

import itertools
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_CITATION_MARKER = re.compile(r"\s*\[\d{1,3}\]")

ScoreFunction = Callable[[str, str], float]


# -- retrieval ------------------------------------------------------------------------------


def recall_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """Share of the gold passages found in the first `k` results."""
    if not gold:
        raise ValueError("recall needs at least one gold passage")
    return len(set(ranked[:k]) & set(gold)) / len(set(gold))


def mrr_at_k(ranked: Sequence[str], gold: Collection[str], k: int = 10) -> float:
    """1 / rank of the first gold passage within the first `k`, else 0."""
    for rank, passage in enumerate(ranked[:k], start=1):
        if passage in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Collection[str], k: int = 10) -> float:
    """Normalised discounted cumulative gain with binary relevance: gain 1/log2(rank+1) per
    gold passage, divided by the gain of the ideal ranking (all gold passages first)."""
    if not gold:
        raise ValueError("nDCG needs at least one gold passage")
    seen: set[str] = set()
    dcg = 0.0
    for rank, passage in enumerate(ranked[:k], start=1):
        if passage in gold and passage not in seen:
            dcg += 1.0 / math.log2(rank + 1)
        seen.add(passage)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(set(gold)), k) + 1))
    return dcg / ideal


# -- answers --------------------------------------------------------------------------------


def strip_citation_markers(text: str) -> str:
    """The answer without Enclave's [n] passage markers, which no reference contains."""
    return _CITATION_MARKER.sub("", text)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, punctuation and articles removed, spaces collapsed."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: overlap of the bags of normalised tokens. Two empty texts agree (1.0)."""
    predicted, expected = answer_tokens(prediction), answer_tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[-1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure: the longest common subsequence of normalised tokens over the
    prediction's length (precision) and the reference's (recall)."""
    predicted, expected = answer_tokens(prediction), answer_tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    lcs = _lcs_length(predicted, expected)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(predicted), lcs / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_score(score: ScoreFunction, prediction: str, references: Sequence[str]) -> float:
    """The best score against any reference (questions often have several)."""
    return max((score(prediction, reference) for reference in references), default=0.0)


# -- abstention and citations ---------------------------------------------------------------


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float


def precision_recall_f1(predicted: Sequence[bool], actual: Sequence[bool]) -> PRF:
    """Binary P/R/F1 of `predicted` against `actual` positives (for abstention: positive =
    unanswerable / abstained). Undefined ratios count as 0."""
    if len(predicted) != len(actual):
        raise ValueError(f"{len(predicted)} predictions for {len(actual)} labels")
    true_pos = sum(p and a for p, a in zip(predicted, actual, strict=True))
    predicted_pos, actual_pos = sum(predicted), sum(actual)
    precision = true_pos / predicted_pos if predicted_pos else 0.0
    recall = true_pos / actual_pos if actual_pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def citation_precision(cited: Sequence[Sequence[str]], gold: Sequence[Collection[str]]) -> float:
    """Cited passages that are a gold passage of their question, over all cited passages
    (micro-averaged). No citation at all gives 0."""
    total = sum(len(c) for c in cited)
    if total == 0:
        return 0.0
    correct = sum(sum(p in g for p in c) for c, g in zip(cited, gold, strict=True))
    return correct / total


@dataclass(frozen=True)
class Threshold:
    """Abstain when the top hit's relevance is below `value`; the P/R/F1 that gives."""

    value: float
    scores: PRF


def best_abstention_threshold(
    answerable: Sequence[float], unanswerable: Sequence[float]
) -> Threshold:
    """The relevance threshold that maximises abstention F1 when a question is declined
    because its best passage scores below it. Candidates lie midway between neighbouring
    observed scores (plus below and above all of them); ties go to the lower threshold,
    which declines fewer questions."""
    if not unanswerable:
        raise ValueError("calibrating abstention needs unanswerable questions")
    values = sorted(set(answerable) | set(unanswerable))
    candidates = [values[0] - 1e-6]
    candidates += [(low + high) / 2 for low, high in itertools.pairwise(values)]
    candidates.append(values[-1] + 1e-6)
    actual = [False] * len(answerable) + [True] * len(unanswerable)
    scores = [*answerable, *unanswerable]
    best: Threshold | None = None
    for value in candidates:
        result = precision_recall_f1([s < value for s in scores], actual)
        if best is None or result.f1 > best.scores.f1:
            best = Threshold(value, result)
    assert best is not None
    return best


# -- latency --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's
    default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0-100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of no values")
    return sum(values) / len(values)
