"""Sparse BM25 vectors: the "words" half of hybrid search.

Qdrant stores a sparse vector per chunk and multiplies each term by its inverse document
frequency at query time (the collection's `IDF` modifier), so the vectors carry only the
term-frequency half of BM25: tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len)). A query's vector
has weight 1 per distinct term, which makes the dot product exactly BM25.

Terms are lower-cased words with English stop words dropped and Snowball-stemmed
("approves", "approval" and "approved" meet), hashed to stable 31-bit ids. The ids and the
weights must never change for a stored collection: changing anything here means re-indexing.
"""

import re
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# BM25 defaults; the average length is fixed (not measured per collection) so a chunk's
# vector never depends on the rest of the corpus. Chunks hold up to 256 word pieces.
K1 = 1.2
B = 0.75
AVG_LEN = 120.0
_MAX_TERM_CHARS = 40

_WORD = re.compile(r"\w+", re.UNICODE)
_STEMMER = snowballstemmer.stemmer("english")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()  # noqa: SIM905 (a word list reads better as text)
)


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]

    def __bool__(self) -> bool:
        return bool(self.indices)


EMPTY = SparseVector([], [])


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def terms(text: str) -> list[str]:
    """The searchable terms of `text`, in order, repeats kept."""
    found = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS or len(word) > _MAX_TERM_CHARS:
            continue
        if len(word) == 1 and not word.isdigit():
            continue
        found.append(_stem(word))
    return found


def term_id(term: str) -> int:
    """A stable id for a term (CRC-32, 31 bits): the same in every process and release."""
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


def _vector(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices, [weights[i] for i in indices])


def encode_document(text: str) -> SparseVector:
    found = terms(text)
    length_norm = K1 * (1 - B + B * len(found) / AVG_LEN)
    weights: dict[int, float] = {}
    for term, tf in Counter(found).items():
        # Two terms hashing to one id add up, as the same word would.
        weights[term_id(term)] = weights.get(term_id(term), 0.0) + tf * (K1 + 1) / (
            tf + length_norm
        )
    return _vector(weights)


def encode_query(text: str) -> SparseVector:
    return _vector({term_id(term): 1.0 for term in terms(text)})
