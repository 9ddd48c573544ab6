"""Context assembly: from ranked hits to the numbered passages the model reads.

1. `merge`: one passage per stretch of a document. Hits that repeat another hit's text (the
   same file indexed twice) are dropped; hits of one document that touch or overlap, and,
   with `neighbours`, the chunks around each hit, are joined into one passage. Chunks repeat
   the previous chunk's last sentence (ingest/chunking.py), so joined text keeps it once.
2. `focus` (optional): keep only the sentences nearest the question, marking every cut with
   "…". Small models answer far better from a few relevant sentences than from whole chunks.
3. `pack`: the passages that fit the model's context, counted with the model's tokenizer;
   the first one that does not fit whole is cut after its last fitting sentence, marked.
"""

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.answering import sentences
from enclave.embedder import Embedder
from enclave.vectorstore import Hit

ELLIPSIS = "…"
Fetch = Callable[[str, Sequence[int]], list[Hit]]
CountTokens = Callable[[str], int]
_WORDS = re.compile(r"\w+")
# A hit sharing this much of its word trigrams with a kept passage repeats it.
_DUPLICATE_SHARE = 0.9
# Overlap between consecutive chunks is at most a sentence or two.
_MAX_OVERLAP_SENTENCES = 3


@dataclass(frozen=True)
class Passage:
    """A stretch of one document. `hit` is its best-ranked hit, with `hit.text` the whole
    stretch (widened, joined); `text` is what the model is shown (whole, focused or cut)."""

    hit: Hit
    ordinals: tuple[int, ...]
    text: str

    @property
    def shortened(self) -> bool:
        return self.text != self.hit.text


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def dedupe(hits: Sequence[Hit]) -> list[Hit]:
    """Hits in rank order without repeats: the same chunk twice, or a chunk whose text an
    earlier hit already holds (a file indexed under two paths)."""
    kept: list[Hit] = []
    seen_ids: set[str] = set()
    shingles: list[set[tuple[str, ...]]] = []
    for hit in hits:
        if hit.chunk_id in seen_ids:
            continue
        mine = _trigrams(hit.text)
        if any(len(mine & other) >= _DUPLICATE_SHARE * len(mine) for other in shingles):
            continue
        kept.append(hit)
        seen_ids.add(hit.chunk_id)
        shingles.append(mine)
    return kept


def join_texts(texts: Sequence[str]) -> str:
    """Consecutive chunks as one text, each overlap sentence kept once."""
    joined = ""
    for text in texts:
        joined = _join_two(joined, text) if joined else text
    return joined


def _join_two(before: str, after: str) -> str:
    tail = [_norm(s) for s in sentences.split(before)[-_MAX_OVERLAP_SENTENCES:]]
    head_spans = sentences.spans(after)
    head = [_norm(after[a:b]) for a, b in head_spans[:_MAX_OVERLAP_SENTENCES]]
    for size in range(min(len(tail), len(head)), 0, -1):
        if tail[-size:] == head[:size]:
            rest = after[head_spans[size - 1][1] :].strip()
            return f"{before}\n{rest}" if rest else before
    return f"{before}\n\n{after}"


def _norm(text: str) -> str:
    return " ".join(text.split())


def merge(hits: Sequence[Hit], fetch: Fetch | None = None, neighbours: int = 0) -> list[Passage]:
    """One passage per stretch of a document, ranked by its best hit. `fetch` reads chunks
    by ordinal (VectorStore.fetch); with `neighbours` > 0 each hit is widened by that many
    chunks on each side."""
    hits = dedupe(hits)
    stretches: list[tuple[Hit, set[int], dict[int, Hit]]] = []  # best hit, ordinals, known
    for hit in hits:
        wanted = set(range(max(0, hit.ordinal - neighbours), hit.ordinal + neighbours + 1))
        for best, ordinals, known in stretches:
            touches = wanted & ordinals or any(
                o + 1 in ordinals or o - 1 in ordinals for o in wanted
            )
            if best.document_id == hit.document_id and touches:
                ordinals |= wanted
                known[hit.ordinal] = hit
                break
        else:
            stretches.append((hit, wanted, {hit.ordinal: hit}))
    passages = []
    for best, ordinals, known in stretches:
        missing = sorted(ordinals - known.keys())
        if missing and fetch is not None:
            known.update({h.ordinal: h for h in fetch(best.document_id, missing)})
        order = sorted(o for o in ordinals if o in known)
        text = join_texts([known[o].text for o in order])
        passages.append(Passage(replace(best, text=text), tuple(order), text))
    return passages


def focus(
    question: str, passages: Sequence[Passage], embedder: Embedder, max_sentences: int
) -> list[Passage]:
    """Each passage cut down to its sentences among the `max_sentences` nearest the question
    (cosine, one embedding batch), in document order, every cut marked with "…". Passages
    left with no sentence are dropped; `max_sentences` <= 0 keeps everything."""
    if max_sentences <= 0 or not passages:
        return list(passages)
    pieces = [sentences.split(p.hit.text) for p in passages]
    flat = [(i, j) for i, sents in enumerate(pieces) for j in range(len(sents))]
    if len(flat) <= max_sentences:
        return list(passages)
    vectors = embedder.embed_documents([question, *(pieces[i][j] for i, j in flat)])
    similarity = vectors[1:] @ vectors[0]
    chosen = {flat[index] for index in np.argsort(-similarity, kind="stable")[:max_sentences]}
    focused = []
    for i, passage in enumerate(passages):
        keep = [j for j in range(len(pieces[i])) if (i, j) in chosen]
        if keep:
            focused.append(replace(passage, text=_excerpt(pieces[i], keep)))
    return focused


def _excerpt(sents: Sequence[str], keep: Sequence[int]) -> str:
    parts: list[str] = []
    if keep[0] > 0:
        parts.append(ELLIPSIS)
    for previous, j in zip([None, *keep], keep, strict=False):
        if previous is not None and j != previous + 1:
            parts.append(ELLIPSIS)
        parts.append(sents[j])
    if keep[-1] < len(sents) - 1:
        parts.append(ELLIPSIS)
    return " ".join(parts)


def pack(
    passages: Sequence[Passage],
    cost: Callable[[int, Passage], int],
    budget: int,
) -> list[Passage]:
    """The leading passages whose cost (prompt tokens, from `cost(n, passage)`) fits in
    `budget`. The first that does not fit whole keeps its leading sentences that do,
    followed by "…" (never cut mid-sentence); then packing stops."""
    kept: list[Passage] = []
    used = 0
    for n, passage in enumerate(passages, start=1):
        spent = cost(n, passage)
        if used + spent <= budget:
            kept.append(passage)
            used += spent
            continue
        cut = _cut_to_fit(passage, functools.partial(cost, n), budget - used)
        if cut is not None:
            kept.append(cut)
        break
    return kept


def _cut_to_fit(passage: Passage, cost: Callable[[Passage], int], budget: int) -> Passage | None:
    sents = sentences.split(passage.text)
    low, high, best = 1, len(sents) - 1, None
    while low <= high:  # the most leading sentences that fit: cost grows with their number
        middle = (low + high) // 2
        candidate = replace(passage, text=" ".join([*sents[:middle], ELLIPSIS]))
        if cost(candidate) <= budget:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best
