"""Turn a file into unstructured elements, or a ParseError that says why not.

One file can hold several documents: an email's body and each of its attachments come back as
separate parts, so a search hit cites the attached report rather than the whole message.

The file type is detected from the content (unstructured's detection: libmagic, ZIP and OLE
inspection), so a PDF named `.txt` is read as a PDF. Everything a parser raises becomes a
ParseError with a reason a person can act on: the file fails alone and the job goes on.

One module per format family; `registry` detects the type and hands the file to the parser
registered below for its MIME type. Adding a format is adding its module and its line here
(and its suffix to ingest/discovery.py's SUPPORTED_SUFFIXES).
"""

from ingest.parsers.common import LANGUAGES, ParsedPart, ParseError, document_title, table_rows
from ingest.parsers.mail import _parse_eml, _parse_msg
from ingest.parsers.office import _partition_via_soffice
from ingest.parsers.pandoc import _partition_pandoc
from ingest.parsers.pdf import NO_TEXT_LAYER, _partition_image, _partition_pdf, tesseract_available
from ingest.parsers.registry import (
    DEFAULT_MAX_BYTES,
    MULTIPART_PARSERS,
    NO_TEXT,
    PARSERS,
    detect_kind,
    parse_file,
)
from ingest.parsers.text import _partition_json, _partition_text_kind, decode_text, text_encoding

# The detected type's MIME type (or "major/*") → its parser. Any other type unstructured can
# partition (DOCX, PPTX, XLSX, XLS) is read by unstructured as detected.
PARSERS.update(
    {
        "application/pdf": _partition_pdf,
        "image/*": _partition_image,  # scans and photos: OCR
        "text/plain": _partition_text_kind,
        "text/html": _partition_text_kind,
        "text/markdown": _partition_text_kind,
        "text/csv": _partition_text_kind,
        "text/tsv": _partition_text_kind,
        "application/xml": _partition_text_kind,
        "application/json": _partition_json,
        "application/x-ndjson": _partition_json,
        "application/msword": _partition_via_soffice,  # .doc
        "application/vnd.ms-powerpoint": _partition_via_soffice,  # .ppt
        "text/rtf": _partition_pandoc,
        "application/vnd.oasis.opendocument.text": _partition_pandoc,
        "application/epub": _partition_pandoc,
        "text/x-rst": _partition_pandoc,
        "text/org": _partition_pandoc,
    }
)
# Files holding several documents, each returned as a part of its own.
MULTIPART_PARSERS.update(
    {
        "message/rfc822": _parse_eml,
        "application/vnd.ms-outlook": _parse_msg,
    }
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "LANGUAGES",
    "MULTIPART_PARSERS",
    "NO_TEXT",
    "NO_TEXT_LAYER",
    "PARSERS",
    "ParseError",
    "ParsedPart",
    "decode_text",
    "detect_kind",
    "document_title",
    "parse_file",
    "table_rows",
    "tesseract_available",
    "text_encoding",
]
