"""Formats pandoc converts for unstructured: RTF, ODT, EPUB, reStructuredText, Org."""

from pathlib import Path
from typing import TYPE_CHECKING

from ingest.parsers.common import ParseError, _partition_as_detected

if TYPE_CHECKING:
    from unstructured.documents.elements import Element
    from unstructured.file_utils.model import FileType


def _partition_pandoc(path: Path, kind: "FileType") -> list["Element"]:
    _require_pandoc(path)
    return _partition_as_detected(path, kind)


def _require_pandoc(path: Path) -> None:
    """RTF, ODT, EPUB, RST and Org are converted by pandoc (bundled by pypandoc-binary)."""
    try:
        import pypandoc

        pypandoc.get_pandoc_version()
    except (ImportError, OSError) as error:
        raise ParseError(
            f"{path.suffix or 'this format'} needs pandoc: install the pypandoc-binary package "
            "or the pandoc system package"
        ) from error
