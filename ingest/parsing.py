"""Turn a file into unstructured elements, or a ParseError that says why not."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unstructured.documents.elements import Element


class ParseError(Exception):
    """The file could not be read as a document; the message is recorded on the document."""


def parse_file(path: Path) -> list["Element"]:
    # Imported lazily: unstructured's import takes seconds and is only needed when parsing.
    from unstructured.partition.auto import partition

    options: dict[str, Any] = {"languages": ["eng"]}
    if path.suffix.lower() == ".pdf":
        # "fast" reads the text layer; "hi_res" would download a layout model from the hub.
        options["strategy"] = "fast"
    try:
        return list(partition(filename=str(path), **options))
    except Exception as error:  # any parser failure is this file's failure alone
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ParseError(f"{type(error).__name__}: {message}"[:500]) from error


def document_title(elements: list["Element"], path: Path) -> str:
    """The first short title-like element, else a readable form of the file name."""
    for element in elements[:20]:
        text = element.text.strip()
        if element.category == "Title" and 2 <= len(text) <= 200:
            return text
    return path.stem.replace("_", " ").replace("-", " ").strip() or path.name
