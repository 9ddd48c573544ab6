"""Chunk a document by its structure (sections under titles), bounded in embedder tokens.

unstructured's `chunk_by_title` keeps sections together and tables apart; we then make sure
no chunk is longer than the embedder reads, because the embedder silently truncates the rest.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from unstructured.documents.elements import Element

# [CLS] and [SEP] take two of the embedder's positions.
SPECIAL_TOKENS = 2
# unstructured bounds chunks in characters; English runs ~4 characters per word piece.
CHARS_PER_TOKEN = 4
_NO_HARD_LIMIT = 1_000_000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


class TokenCounter(Protocol):
    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, without special tokens."""
        ...


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str  # shown to people and to the LLM
    heading: str
    page: int | None
    embed_text: str  # title and heading prefixed, so short chunks keep their context


def chunk_document(
    elements: Sequence["Element"], title: str, counter: TokenCounter, max_tokens: int
) -> list[Chunk]:
    chunks: list[Chunk] = []
    heading = ""
    for section in _sections(elements, max_tokens):
        text = section.text.strip()
        if not text:
            continue
        heading = _section_heading(section) or heading
        prefix = _prefix(title, heading, counter, max_tokens)
        budget = max_tokens - SPECIAL_TOKENS - _count(counter, prefix)
        for piece in split_to_budget(text, budget, counter):
            chunks.append(
                Chunk(
                    ordinal=len(chunks),
                    text=piece,
                    heading=heading,
                    page=section.metadata.page_number,
                    embed_text=f"{prefix}\n{piece}" if prefix else piece,
                )
            )
    return chunks


def _sections(elements: Sequence["Element"], max_tokens: int) -> Iterable["Element"]:
    """Title-delimited sections, chunked page by page: unstructured merges small sections
    across page breaks even with multipage_sections=False, and a chunk that spans pages
    would cite the wrong page."""
    from unstructured.chunking.title import chunk_by_title

    for _, page in groupby(elements, key=lambda element: element.metadata.page_number):
        yield from chunk_by_title(
            list(page),
            # No hard character cut (it falls mid-sentence): split_to_budget bounds the size
            # in tokens at sentence ends. Sections still close near the budget and small
            # fragments are merged.
            max_characters=_NO_HARD_LIMIT,
            new_after_n_chars=max_tokens * CHARS_PER_TOKEN * 3 // 4,
            combine_text_under_n_chars=max_tokens * CHARS_PER_TOKEN // 4,
        )


def _section_heading(section: "Element") -> str | None:
    """The title governing the section's first text: the last of the titles it opens with."""
    heading = None
    for element in getattr(section.metadata, "orig_elements", None) or []:
        if element.category != "Title":
            break
        if element.text.strip():
            heading = str(element.text.strip())
    return heading


def _prefix(title: str, heading: str, counter: TokenCounter, max_tokens: int) -> str:
    prefix = title if not heading or heading == title else f"{title} — {heading}"
    # A prefix may take at most a quarter of the budget; the chunk's own text matters more.
    return _truncate_words(prefix, max_tokens // 4, counter)


def _count(counter: TokenCounter, text: str) -> int:
    return counter.count_tokens_batch([text])[0] if text else 0


def _truncate_words(text: str, budget: int, counter: TokenCounter) -> str:
    words = text.split()
    counts = counter.count_tokens_batch(words)
    kept, used = [], 0
    for word, count in zip(words, counts, strict=True):
        if used + count > budget:
            break
        kept.append(word)
        used += count
    return " ".join(kept)


def split_to_budget(text: str, budget: int, counter: TokenCounter) -> list[str]:
    """Split `text` at sentence ends (then at words) into pieces of at most `budget` tokens.

    Word-piece counts add up across whitespace-separated pieces, so each sentence or word is
    counted once and the pieces are packed greedily.
    """
    if _count(counter, text) <= budget:
        return [text]
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
    units: list[tuple[str, int]] = []
    for sentence, count in zip(sentences, counter.count_tokens_batch(sentences), strict=True):
        if count <= budget:
            units.append((sentence, count))
        else:
            words = sentence.split()
            units.extend(zip(words, counter.count_tokens_batch(words), strict=True))
    return list(_pack(units, budget))


def _pack(units: Iterable[tuple[str, int]], budget: int) -> Iterable[str]:
    current: list[str] = []
    used = 0
    for unit, count in units:
        if current and used + count > budget:
            yield " ".join(current)
            current, used = [], 0
        current.append(unit)
        used += count
    if current:
        yield " ".join(current)
