"""What every parser shares: the parts and errors they return, titles, unstructured's
partitioner, failure reasons and tables as rows."""

import re
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unstructured.documents.elements import Element
    from unstructured.file_utils.model import FileType

# The documents' language: spares unstructured a detection per element, and names the
# tesseract model to OCR with (Debian's tesseract-ocr ships English, tesseract-ocr-eng).
LANGUAGES = ["eng"]
_WORD = re.compile(r"[^\W\d_]{3}")  # three letters in a row, in any script


class ParseError(Exception):
    """The file could not be read as a document; the message is recorded on the document."""


@dataclass
class ParsedPart:
    """One document found in a file.

    `name` is "" for the file itself; an email attachment is named by its file name (a nested
    one as "outer.eml/inner.pdf"). An attachment that could not be read has no elements and
    an `error` (the reason to record): it fails alone, and the message and the other
    attachments are still indexed.
    """

    name: str
    title: str
    elements: list["Element"] = field(default_factory=list)
    error: str | None = None


def document_title(elements: list["Element"], path: Path) -> str:
    """The first short title-like element, else a readable form of the file name."""
    for element in elements[:20]:
        text = element.text.strip()
        # A real title has a word in it: rotated margin text ("n u J", an arXiv stamp read
        # letter by letter) and page furniture are classified as titles too.
        if element.category == "Title" and 2 <= len(text) <= 200 and _WORD.search(text):
            return text
    return path.stem.replace("_", " ").replace("-", " ").strip() or path.name


def _partition(path: Path, **options: Any) -> list["Element"]:
    # Imported lazily: unstructured's import takes seconds and is only needed when parsing.
    from unstructured.partition.auto import partition

    options.setdefault("languages", LANGUAGES)
    return list(partition(filename=str(path), **options))


def _partition_as_detected(path: Path, kind: "FileType") -> list["Element"]:
    return _partition(path)


# --- damaged input --------------------------------------------------------------------------


def _describe(path: Path) -> str:
    """What libmagic says the content is, e.g. "data" or "PDF document, version 1.4"."""
    import magic

    try:
        return str(magic.from_file(str(path))).split(",")[0]
    except Exception:
        return "unrecognised data"


def _reason(error: BaseException, path: Path) -> str:
    """A one-line reason for a parser exception, with the known cases said plainly."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
        return f"cannot read: {error.strerror or message}"
    if isinstance(error, zipfile.BadZipFile):
        return f"corrupt {path.suffix.lstrip('.').upper() or 'ZIP'} file: {message}"
    if name.startswith(("PDFSyntax", "PSEOF", "PDFNoValidXRef")):
        return f"corrupt PDF: {name}: {message}"[:500]
    if isinstance(error, subprocess.TimeoutExpired):
        return f"converter timed out after {error.timeout:g} s"
    return f"{name}: {message}"[:500]


def _has_text(elements: list["Element"]) -> bool:
    return any(element.text and element.text.strip() for element in elements)


# --- tables ---------------------------------------------------------------------------------


def _tables_as_rows(elements: list["Element"]) -> list["Element"]:
    """Give each table one line per row ("cell | cell | cell").

    unstructured's table text runs all cells together with spaces, so neither a reader nor the
    chunker can tell where a row ends. With a row per line, a chunk split falls between rows
    (the chunker splits at line ends) and each row keeps its cells together. The HTML form
    stays in `metadata.text_as_html`.
    """
    for element in elements:
        html = getattr(element.metadata, "text_as_html", None)
        if element.category == "Table" and html:
            rows = table_rows(html)
            if rows:
                element.text = "\n".join(rows)
    return elements


def table_rows(html: str) -> list[str]:
    """The rows of an HTML table as "cell | cell" lines; empty rows are left out."""
    import lxml.html

    try:
        table = lxml.html.fragment_fromstring(html, create_parent="div")
    except Exception:  # malformed HTML: keep unstructured's text
        return []
    rows = []
    for row in table.iter("tr"):
        cells = [" ".join(cell.text_content().split()) for cell in row.xpath("./td|./th")]
        if any(cells):
            rows.append(" | ".join(cells))
    return rows
