"""Matched query terms in result text: a snippet around the first match, escaped, with the
terms wrapped in <mark>. User and document text is always escaped before any markup is added."""

import re
from collections.abc import Iterable

from markupsafe import Markup, escape

_WORD = re.compile(r"\w+", re.UNICODE)
# Too common to be worth marking; the search itself still sees them.
_STOP_TEXT = (
    "a an and are as at be by can do does each for from get had has have how i in is it its many "
    "me much my of "
    "on or our so that the their then there this to was we what when where which who why will "
    "with you your"
)
_STOPWORDS = frozenset(_STOP_TEXT.split())
_MARKER = re.compile(r"\[(\d{1,3})\]")


def query_terms(query: str) -> list[str]:
    """Distinct words of the query worth marking, longest first (so "holidays" wins over
    "holiday" where both match)."""
    words = {w.lower() for w in _WORD.findall(query) if len(w) > 1}
    return sorted(words - _STOPWORDS, key=lambda w: (-len(w), w))


def _pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = "|".join(re.escape(t) for t in terms)
    # A term matches at the start of a word, so "holiday" also marks "holidays".
    return re.compile(rf"\b(?:{alternatives})\w*", re.IGNORECASE) if alternatives else None


def snippet_around(text: str, terms: list[str], width: int = 320) -> str:
    """About `width` characters of `text`, starting shortly before the first matched term."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    pattern = _pattern(terms)
    match = pattern.search(text) if pattern else None
    start = 0
    if match and match.start() > width // 3:
        start = text.rfind(" ", 0, match.start() - width // 4) + 1
    end = text.rfind(" ", start, start + width)
    end = end if end > start else start + width
    return ("… " if start else "") + text[start:end] + (" …" if end < len(text) else "")


def highlight(text: str, terms: list[str]) -> Markup:
    """`text` escaped, with every match of `terms` in <mark>."""
    pattern = _pattern(terms)
    if pattern is None:
        return escape(text)
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(Markup("<mark>%s</mark>") % match.group(0))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def link_citations(answer: str, anchor_prefix: str, known: set[int]) -> Markup:
    """The answer escaped, with each `[n]` of a known source turned into a link to it."""
    parts: list[str] = []
    last = 0
    for match in _MARKER.finditer(answer):
        n = int(match.group(1))
        if n not in known:
            continue
        parts.append(escape(answer[last : match.start()]))
        parts.append(
            Markup('<a class="cite" href="#%s%d" aria-label="source %d">[%d]</a>')
            % (anchor_prefix, n, n, n)
        )
        last = match.end()
    parts.append(escape(answer[last:]))
    return Markup("").join(parts)
