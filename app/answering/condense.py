"""Follow-up questions made standalone before retrieval.

"Who approves it?" finds nothing on its own; after "What is the travel expense policy?" it
means "who approves travel expenses". A question is treated as a follow-up when it points
back (it, they, that one…), continues ("And for Berlin?", "What about…"), or is too short to
stand alone (at most two search terms); then the search query is the earlier standalone
question followed by this one, so both the embedding and the BM25 terms carry the topic.

Deterministic on purpose: the shipped 135M model, asked to rewrite follow-ups, mostly
repeats the conversation or invents a new question (measured: see the report of this
change), and a rewrite would cost a generation before every follow-up's search.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.answering.conversation import Turn
from enclave.vectorstore.lexical import terms

_WORD = re.compile(r"[\w']+")
_POINTERS = frozenset(
    [
        *("it", "its", "it's", "itself", "they", "them", "their", "theirs", "those", "these"),
        *("that", "this", "there", "he", "him", "his", "she", "her", "one", "ones", "same"),
        *("such", "former", "latter"),
    ]
)
_CONTINUATIONS = re.compile(
    r"^\s*(?:and|or|but|also|so|then|what about|how about|and what about|what if|"
    r"same for|why|why not|how come|really)\b",
    re.IGNORECASE,
)
# A standalone question names its subject: more than this many search terms.
_MAX_FOLLOWUP_TERMS = 2
# Earlier user turns folded into a query: a chain of follow-ups keeps its first topic.
_MAX_CHAIN = 3


@dataclass(frozen=True)
class Condensed:
    query: str  # what retrieval searches for
    followup: bool  # True when the query includes earlier questions


def is_followup(question: str) -> bool:
    words = {w.lower() for w in _WORD.findall(question)}
    return (
        bool(words & _POINTERS)
        or bool(_CONTINUATIONS.match(question))
        or len(set(terms(question))) <= _MAX_FOLLOWUP_TERMS
    )


def condense(question: str, history: Sequence[Turn]) -> Condensed:
    """The standalone search query for `question` after `history` (oldest turn first)."""
    asked = [t.content.strip() for t in history if t.role == "user" and t.content.strip()]
    if not asked or not is_followup(question):
        return Condensed(question, followup=False)
    # Walk back over the user's questions to the last one that stood on its own.
    chain: list[str] = []
    for earlier in reversed(asked):
        chain.insert(0, earlier)
        if not is_followup(earlier) or len(chain) == _MAX_CHAIN:
            break
    return Condensed(" ".join([*(_sentence(q) for q in chain), question]), followup=True)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text[-1:] in ".?!" else f"{text}?"
