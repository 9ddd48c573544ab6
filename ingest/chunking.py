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
# A carried-over sentence may take up to 1/6 of a chunk (about 40 of MiniLM's 256 tokens).
OVERLAP_FRACTION = 6
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
    outline = Outline(title)
    for section in _sections(elements, max_tokens):
        heading = outline.heading_for(section)
        text = section.text.strip()
        if not text:
            continue
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


class Outline:
    """The path of headings above the current text ("Handbook › Leave › Parental leave"),
    kept across sections from the titles' nesting depth."""

    SEPARATOR = " › "

    def __init__(self, document_title: str) -> None:
        self.document_title = document_title
        self.stack: list[tuple[int, str]] = []

    def heading_for(self, section: "Element") -> str:
        """The path as it stands at the section's first text. Titles further in (small
        sections merged into this one) still move the outline on for the next section."""
        heading: str | None = None
        for element in getattr(section.metadata, "orig_elements", None) or [section]:
            if element.category == "Title":
                self._enter(element)
            elif heading is None:
                heading = self.path()
        return self.path() if heading is None else heading

    def _enter(self, title: "Element") -> None:
        text = " ".join(title.text.split())
        if not text:
            return
        depth = title.metadata.category_depth or 0
        while self.stack and self.stack[-1][0] >= depth:
            self.stack.pop()
        self.stack.append((depth, text))

    def path(self) -> str:
        names = [name for _, name in self.stack]
        if names and names[0] == self.document_title:
            names = names[1:]  # the title is already the prefix's first part
        return self.SEPARATOR.join(names)


def _prefix(title: str, heading: str, counter: TokenCounter, max_tokens: int) -> str:
    prefix = f"{title}{Outline.SEPARATOR}{heading}" if heading else title
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
    A piece after the first repeats the previous piece's last sentence when it is short, so
    a fact stated across a split is still found whole.

    Word-piece counts add up across whitespace-separated pieces, so each sentence or word is
    counted once and the pieces are packed greedily.
    """
    if _count(counter, text) <= budget:
        return [text]
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
    units: list[tuple[str, int, bool]] = []
    for sentence, count in zip(sentences, counter.count_tokens_batch(sentences), strict=True):
        if count <= budget:
            units.append((sentence, count, True))
        else:
            words = sentence.split()
            counts = counter.count_tokens_batch(words)
            units.extend((w, c, False) for w, c in zip(words, counts, strict=True))
    return list(_pack(units, budget, overlap=budget // OVERLAP_FRACTION))


def _pack(units: Iterable[tuple[str, int, bool]], budget: int, overlap: int) -> Iterable[str]:
    current: list[tuple[str, int, bool]] = []
    used = 0
    for unit in units:
        if current and used + unit[1] > budget:
            yield " ".join(text for text, _, _ in current)
            last = current[-1]
            carried = last[2] and last[1] <= overlap and last[1] + unit[1] <= budget
            current = [last] if carried else []
            used = last[1] if carried else 0
        current.append(unit)
        used += unit[1]
    if current:
        yield " ".join(text for text, _, _ in current)
