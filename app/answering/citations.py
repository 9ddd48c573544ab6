"""Citations checked against the passages, sentence by sentence.

Small models cite badly: they omit markers, cite a passage about something else, or invent
numbers. So the model's markers are only a hint. After generation every answer sentence is
matched to the passage that supports it, by meaning (MiniLM cosine with the passage's
sentences, all embedded in one batch) and by words (share of the sentence's stemmed terms
found in the passage); a number the sentence states must occur in the passage (or the
question). A supported sentence keeps the model's marker when that passage supports it about
as well as the best one, and gets the best one's number otherwise; a sentence no passage
supports is reported as unsupported. The answer text is rewritten with these markers.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from app.answering import sentences
from app.answering.context import Passage
from enclave.embedder import Embedder
from enclave.vectorstore import Hit
from enclave.vectorstore.lexical import terms

_MARKER = re.compile(r"\s*\[(\d{1,3})\]")
_NUMBER = re.compile(r"\d{1,2}:\d{2}|\d+(?:[.,]\d+)*")
_SNIPPET_CHARS = 300
# Weight of meaning against words in a sentence's support score, and the score a sentence
# needs to count as supported (calibrated on the shipped model's answers to the sample
# questions: see tests/app/test_citations.py and the measurements in the report).
MEANING_WEIGHT = 0.5
MIN_SUPPORT = 0.55
# The model's own marker is kept when its passage scores within this of the best one.
KEEP_MARGIN = 0.05
# Stemmed words that talk about the answer rather than state anything.
_META_TERMS = frozenset(terms("answer question passage passages information document text"))
_DECLINED = re.compile(
    r"\b(?:couldn'?t|could not|can ?not|can'?t|unable to|do(?:es)? not|do(?:es)?n'?t)\b"
    r"[^.]{0,40}?\b(?:find|answer|know|contain|mention|say|provide|have)\b"
    r"|\bno (?:information|mention|answer)\b|\bnot (?:mentioned|stated|specified)\b",
    re.IGNORECASE,
)


class Kind(StrEnum):
    CLAIM = "claim"  # states something: needs a passage's support
    FILLER = "filler"  # states nothing ("The answer is:", the question repeated)
    DECLINED = "declined"  # the model says it cannot answer


class Verdict(StrEnum):
    CONFIRMED = "confirmed"  # the model's marker names a supporting passage
    CORRECTED = "corrected"  # the model cited a passage that does not support it
    ATTACHED = "attached"  # the model cited nothing; Enclave found the passage
    UNSUPPORTED = "unsupported"  # no passage supports it
    NONE = "none"  # fillers and refusals are not cited


@dataclass(frozen=True)
class Citation:
    n: int
    document_id: str
    title: str
    source: str
    page: int | None
    snippet: str
    # The answer sentences this passage supports.
    sentences: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnswerSentence:
    text: str  # without citation markers
    kind: Kind
    cited: tuple[int, ...]  # the model's markers that name a passage
    n: int | None  # the supporting passage
    verdict: Verdict
    score: float  # the best passage's support score
    evidence: str = ""  # the supporting passage's sentence nearest in meaning


@dataclass(frozen=True)
class Review:
    text: str  # the answer with Enclave's markers
    sentences: list[AnswerSentence]
    citations: list[Citation]
    invented: list[int] = field(default_factory=list)  # markers naming no passage

    @property
    def unsupported(self) -> list[str]:
        return [s.text for s in self.sentences if s.verdict == Verdict.UNSUPPORTED]

    @property
    def supported(self) -> bool:
        return any(s.n is not None for s in self.sentences)

    @property
    def declined(self) -> bool:
        return any(s.kind == Kind.DECLINED for s in self.sentences)


def snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _SNIPPET_CHARS:
        return text
    cut = text.rfind(" ", 0, _SNIPPET_CHARS)
    return text[: cut if cut > 0 else _SNIPPET_CHARS] + " …"


def cited_numbers(answer: str, passage_count: int) -> list[int]:
    """Passage numbers cited in the answer, in order of first use; invented numbers dropped."""
    seen: list[int] = []
    for match in _MARKER.finditer(answer):
        n = int(match.group(1))
        if 1 <= n <= passage_count and n not in seen:
            seen.append(n)
    return seen


def citation_for(n: int, hit: Hit, evidence: str = "", cited: Sequence[str] = ()) -> Citation:
    return Citation(
        n=n,
        document_id=hit.document_id,
        title=hit.title,
        source=hit.source,
        page=hit.page,
        snippet=snippet(evidence or hit.text),
        sentences=tuple(cited),
    )


def numbers(text: str) -> set[str]:
    """Numbers as values: "7,000" and "7000" are one number, "0.30" and "0.3" too."""
    found = set()
    for raw in _NUMBER.findall(text):
        if ":" in raw:  # a time of day
            found.add(raw.zfill(5))
            continue
        value = re.sub(r",(?=\d{3}\b)", "", raw).replace(",", ".")
        try:
            found.add(f"{float(value):g}")
        except ValueError:  # "1.2.3": keep as written
            found.add(raw)
    return found


def classify(sentence: str, question: str) -> Kind:
    if _DECLINED.search(sentence):
        return Kind.DECLINED
    own = set(terms(sentence)) - set(terms(question)) - _META_TERMS
    if not own and not numbers(sentence) - numbers(question):
        return Kind.FILLER
    return Kind.CLAIM


class SupportMatcher:
    """Scores answer sentences against passages with the embedder already loaded for search."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def scores(
        self, claims: Sequence[str], question: str, passages: Sequence[Hit]
    ) -> tuple[np.ndarray, list[list[str]]]:
        """(support score per claim × passage, the passage sentence at the centre of each
        claim's best window per passage).

        A window is a passage sentence with its neighbours (a list item and its heading):
        meaning is the claim's best cosine with a sentence of the window, words the share of
        the claim's terms found in the window, and every number the claim states must be in
        the window or the question."""
        pieces = [sentences.split(p.text) or [p.text] for p in passages]
        flat = [s for sents in pieces for s in sents]
        vectors = self.embedder.embed_documents([*claims, *flat])
        cosine = vectors[: len(claims)] @ vectors[len(claims) :].T  # claims × passage sentences
        asked = numbers(question)
        windows = []  # per passage: (first flat index, [(terms, numbers, lo, hi) per sentence])
        sentence_stats: list[tuple[set[str], set[str]]] = []  # per flat sentence
        offset = 0
        for sents in pieces:
            stats = [(set(terms(s)), numbers(s)) for s in sents]
            rows = []
            for j in range(len(sents)):
                lo, hi = max(0, j - 1), min(len(sents), j + 2)
                words = set().union(*(stats[x][0] for x in range(lo, hi)))
                nums = set().union(*(stats[x][1] for x in range(lo, hi)))
                rows.append((words, nums, offset + lo, offset + hi))
            windows.append((offset, rows))
            sentence_stats.extend(stats)
            offset += len(sents)
        result = np.zeros((len(claims), len(passages)), dtype=np.float32)
        nearest: list[list[str]] = []
        for c, claim in enumerate(claims):
            words = set(terms(claim)) - _META_TERMS
            stated = numbers(claim) - asked
            near = []
            for i, (start, rows) in enumerate(windows):
                best_score, best_sentence, best_window = 0.0, start, (start, start + 1)
                for window_words, window_numbers, lo, hi in rows:
                    if stated - window_numbers:
                        continue  # states a number this window does not have
                    lexical = len(words & window_words) / len(words) if words else 0.0
                    meaning = float(cosine[c, lo:hi].max())
                    score = MEANING_WEIGHT * meaning + (1 - MEANING_WEIGHT) * lexical
                    if score > best_score:
                        best_score, best_window = score, (lo, hi)
                if best_score > 0:
                    best_sentence = _evidence(
                        cosine[c], words, stated, sentence_stats, *best_window
                    )
                result[c, i] = best_score
                near.append(flat[best_sentence])
            nearest.append(near)
        return result, nearest

    def review(self, answer: str, question: str, passages: Sequence[Passage | Hit]) -> Review:
        hits = [p.hit if isinstance(p, Passage) else p for p in passages]
        found = sentences.spans(answer)
        texts = [_MARKER.sub("", answer[a:b]).strip() for a, b in found]
        marks = [[int(m) for m in _MARKER.findall(answer[a:b])] for a, b in found]
        _attach_leading_markers(texts, marks, answer, found)
        said = [_statement(t, hits) for t in texts]
        kinds = [classify(t, question) if t else Kind.FILLER for t in said]
        claims = [i for i, kind in enumerate(kinds) if kind == Kind.CLAIM]
        score, nearest = (
            self.scores([said[i] for i in claims], question, hits)
            if claims and hits
            else (np.zeros((len(claims), 0)), [[] for _ in claims])
        )
        invented = sorted({n for ns in marks for n in ns if not 1 <= n <= len(hits)})
        judged: list[AnswerSentence] = []
        for i, text in enumerate(texts):
            cited = tuple(dict.fromkeys(n for n in marks[i] if 1 <= n <= len(hits)))
            if i not in claims:
                judged.append(AnswerSentence(text, kinds[i], cited, None, Verdict.NONE, 0.0))
                continue
            row = claims.index(i)
            judged.append(_judge(text, cited, score[row], nearest[row]))
        return Review(
            text=_rewrite(answer, found, judged, hits),
            sentences=[s for s in judged if s.text],
            citations=_citations(judged, hits),
            invented=invented,
        )


_LEAD = re.compile(
    r"^(?:\s*(?:\d{1,3}[.)]|[-•*]+|#+)\s+)?\**\s*(?:(?:the )?answer(?: to (?:this|the) question)?"
    r"(?: is)?\s*:\s*)?",
    re.IGNORECASE,
)


def _without_labels(text: str, hits: Sequence[Hit]) -> str:
    """`text` without the passage labels the model copies from the prompt ("[2] (Employee
    Handbook, page 2) …")."""
    for title in {hit.title for hit in hits if hit.title}:
        label = r"\(\s*" + re.escape(title) + r"(?:,\s*page\s*\d+)?\s*\)"
        text = re.sub(label, " ", text, flags=re.IGNORECASE)
    text = re.sub(r"^(?:\s*…)+\s*", "", text.strip())
    return " ".join(text.split())


def _statement(text: str, hits: Sequence[Hit]) -> str:
    """What a sentence states: without passage labels, list numbering, "The answer is:" or
    markdown."""
    return _LEAD.sub("", _without_labels(text, hits).replace("**", "")).strip()


def _evidence(
    cosine: np.ndarray,
    words: set[str],
    stated: set[str],
    stats: Sequence[tuple[set[str], set[str]]],
    lo: int,
    hi: int,
) -> int:
    """The sentence of a window that backs a claim: one stating the claim's numbers when
    there is one, nearest by meaning and words."""
    candidates = [x for x in range(lo, hi) if not stated - stats[x][1]] or list(range(lo, hi))

    def score(x: int) -> float:
        shared = len(words & stats[x][0]) / len(words) if words else 0.0
        return float(cosine[x]) + shared

    return max(candidates, key=score)


def _attach_leading_markers(
    texts: list[str], marks: list[list[int]], answer: str, found: Sequence[tuple[int, int]]
) -> None:
    """ "Fact. [2] Next fact": a marker opening a sentence belongs to the one before."""
    for i in range(1, len(found)):
        a, b = found[i]
        lead = re.match(r"(?:\s*\[\d{1,3}\])+", answer[a:b])
        if lead and texts[i - 1]:
            moved = [int(m) for m in _MARKER.findall(lead.group())]
            marks[i - 1].extend(moved)
            for n in moved:
                marks[i].remove(n)


def _judge(
    text: str, cited: tuple[int, ...], scores: np.ndarray, nearest: Sequence[str]
) -> AnswerSentence:
    best = int(np.argmax(scores))
    top = float(scores[best])
    if top < MIN_SUPPORT:
        return AnswerSentence(text, Kind.CLAIM, cited, None, Verdict.UNSUPPORTED, top)
    keep = [n for n in cited if scores[n - 1] >= max(MIN_SUPPORT, top - KEEP_MARGIN)]
    if keep:
        n, verdict = keep[0], Verdict.CONFIRMED
    else:
        n, verdict = best + 1, Verdict.CORRECTED if cited else Verdict.ATTACHED
    return AnswerSentence(text, Kind.CLAIM, cited, n, verdict, top, nearest[n - 1])


def _citations(judged: Sequence[AnswerSentence], hits: Sequence[Hit]) -> list[Citation]:
    by_number: dict[int, list[AnswerSentence]] = {}
    for sentence in judged:
        if sentence.n is not None:
            by_number.setdefault(sentence.n, []).append(sentence)
    return [
        citation_for(
            n,
            hits[n - 1],
            evidence=" … ".join(dict.fromkeys(s.evidence for s in supported)),
            cited=[s.text for s in supported],
        )
        for n, supported in by_number.items()
    ]


def _rewrite(
    answer: str,
    found: Sequence[tuple[int, int]],
    judged: Sequence[AnswerSentence],
    hits: Sequence[Hit],
) -> str:
    """The answer as written, each sentence's markers replaced by Enclave's one and the
    passage labels it copied from the prompt left out."""
    parts: list[str] = []
    last = 0
    for (a, b), sentence in zip(found, judged, strict=True):
        parts.append(answer[last:a])
        body = _without_labels(_MARKER.sub("", answer[a:b]), hits)
        body = re.sub(r"\s+([.,;:!?])", r"\1", body)
        if sentence.n is not None:
            stop = len(body.rstrip(".!?:;"))
            body = f"{body[:stop]} [{sentence.n}]{body[stop:]}"
        parts.append(body)
        last = b
    parts.append(answer[last:])
    return "".join(parts).strip()
