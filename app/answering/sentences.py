"""Sentences of passages and answers, with their character spans.

One splitter for both sides, so an answer sentence copied from a passage splits the same way
the passage does: at sentence punctuation followed by a space, at line breaks, and before
inline list bullets (" - Item"), which PDF extraction runs into one line. Enumerations ("9.")
and common abbreviations ("e.g.") do not end a sentence.
"""

import re

# A boundary is the whitespace after sentence punctuation (and closing quotes/brackets),
# any line break, or the space before an inline bullet.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|\s*\n\s*|\s+(?=[-•*]\s+\S)")
_NOT_AN_END = re.compile(
    r"^\s*\d{1,3}\.$|(?:^|\s)(?:e\.g|i\.e|etc|vs|no|nr|approx|incl|dr|mr|mrs|ms|st|ca)\.$",
    re.IGNORECASE,
)


def spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, surrounding whitespace excluded."""
    found: list[tuple[int, int]] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        piece = text[start : boundary.start()]
        # Within a line, an enumeration or abbreviation continues the sentence.
        if "\n" not in boundary.group() and _NOT_AN_END.search(piece):
            continue
        _add(found, text, start, boundary.start())
        start = boundary.end()
    _add(found, text, start, len(text))
    return found


def _add(found: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        found.append((start, end))


def split(text: str) -> list[str]:
    """The sentences of `text`, in order."""
    return [text[start:end] for start, end in spans(text)]
