"""PDF (the text layer, by unstructured then pypdf) and OCR with tesseract, for scanned PDFs
and for images."""

import shutil
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.parsers.common import LANGUAGES, ParseError, _has_text, _partition, _reason

if TYPE_CHECKING:
    from unstructured.documents.elements import Element
    from unstructured.file_utils.model import FileType

NO_TEXT_LAYER = "no text layer (install tesseract-ocr for OCR)"


def _partition_pdf(path: Path, kind: "FileType") -> list["Element"]:
    _check_pdf_password(path)
    # "fast" reads the text layer with pdfminer and keeps page numbers; "hi_res" would
    # download a layout model from the hub.
    elements = _partition(path, strategy="fast")
    if _has_text(elements):
        return elements
    # "fast" also returns nothing, without a word, when pdfminer fails or when unstructured
    # judges a page "too complex" (many vector drawing operations): that is not a scan.
    # pypdf reads such text layers; only a PDF without one is a scan.
    elements = _pdf_text_by_pypdf(path)
    if _has_text(elements):
        return elements
    return _ocr(path)


def _check_pdf_password(path: Path) -> None:
    """A PDF that needs a password to open fails with that reason. An owner password alone
    (copy protection) does not stop text extraction, so those PDFs are read."""
    import pikepdf

    try:
        pikepdf.open(path).close()
    except pikepdf.PasswordError as error:
        raise ParseError("encrypted: the PDF needs a password to open") from error
    except Exception:  # damaged: pdfminer and pypdf repair some of these, so let them try
        return


def _pdf_text_by_pypdf(path: Path) -> list["Element"]:
    """The text layer read page by page with pypdf, as unstructured text elements carrying
    their page numbers."""
    import pypdf
    from unstructured.partition.text import partition_text

    try:
        reader = pypdf.PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as error:
        raise ParseError(f"corrupt PDF: {_reason(error, path)}") from error
    elements: list[Element] = []
    for number, text in enumerate(pages, start=1):
        if not text.strip():
            continue
        page = partition_text(text=text, metadata_filename=str(path), languages=LANGUAGES)
        for element in page:
            element.metadata.page_number = number
        elements.extend(page)
    return elements


def _ocr(path: Path) -> list["Element"]:
    if not tesseract_available():
        raise ParseError(NO_TEXT_LAYER)
    elements = _partition(path, strategy="ocr_only", languages=LANGUAGES)
    if not _has_text(elements):
        raise ParseError("no text found by OCR")
    return elements


def _partition_image(path: Path, kind: "FileType") -> list["Element"]:
    return _ocr(path)


@cache
def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None
