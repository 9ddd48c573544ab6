"""The registry (a detected type's MIME type → its parser), and the dispatch around it: size
limits, content sniffing, encrypted and damaged containers.

The tables are filled in ingest/parsers/__init__.py, one line per MIME type, so that adding a
format is adding its module and its lines there. A type with no line is read by unstructured's
own partitioner.
"""

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ingest.parsers.common import (
    ParsedPart,
    ParseError,
    _describe,
    _has_text,
    _partition_as_detected,
    _reason,
    _tables_as_rows,
    document_title,
)

if TYPE_CHECKING:
    from unstructured.documents.elements import Element
    from unstructured.file_utils.model import FileType

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 200 * MIB
NO_TEXT = "no text found in the file"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_T = TypeVar("_T")

# A parser reads one file into elements, which become the file's one part.
Parser = Callable[[Path, "FileType"], list["Element"]]
# A multipart parser reads a file holding several documents (an email and its attachments)
# into parts of its own.
MultipartParser = Callable[..., list[ParsedPart]]

# MIME type, or "major/*" for a whole family, → parser.
PARSERS: dict[str, Parser] = {}
MULTIPART_PARSERS: dict[str, MultipartParser] = {}


def parse_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[ParsedPart]:
    """The documents in `path`: the file itself first, then any attachments.

    Raises ParseError when the file itself cannot be read.
    """
    return _parse(Path(path), max_bytes=max_bytes, depth=0)


# --- dispatch -------------------------------------------------------------------------------


def _parse(path: Path, *, max_bytes: int, depth: int) -> list[ParsedPart]:
    try:
        _check_size(path, max_bytes)
        kind = detect_kind(path)
        _check_container(path, kind)
        multipart = _lookup(MULTIPART_PARSERS, kind)
        if multipart is not None:
            return multipart(path, max_bytes=max_bytes, depth=depth)
        elements = _partition_kind(path, kind)
    except ParseError:
        raise
    except Exception as error:  # any parser failure is this file's failure alone
        raise ParseError(_reason(error, path)) from error
    elements = _tables_as_rows(elements)
    if not _has_text(elements):
        raise ParseError(NO_TEXT)
    return [ParsedPart("", document_title(elements, path), elements)]


def detect_kind(path: Path) -> "FileType":
    """The file's type by content (extension only as the last resort)."""
    from unstructured.file_utils.filetype import detect_filetype

    kind = detect_filetype(file_path=str(path))
    if not kind.is_partitionable or kind.partitioner_shortname == "audio":
        raise ParseError(f"unsupported file type: {_describe(path)}")
    return kind


def _partition_kind(path: Path, kind: "FileType") -> list["Element"]:
    return (_lookup(PARSERS, kind) or _partition_as_detected)(path, kind)


def _lookup(table: dict[str, _T], kind: "FileType") -> _T | None:
    """The entry for the type's MIME type, else for its family ("image/*")."""
    major = kind.mime_type.partition("/")[0]
    return table.get(kind.mime_type, table.get(f"{major}/*"))


# --- limits and damaged input ---------------------------------------------------------------


def _check_size(path: Path, max_bytes: int) -> None:
    size = path.stat().st_size
    if size == 0:
        raise ParseError("empty file")
    if size > max_bytes:
        raise ParseError(f"file too large: {_mb(size)} MB (limit {_mb(max_bytes)} MB)")


def _mb(size: int) -> str:
    return f"{size / MIB:.3g}"


def _check_container(path: Path, kind: "FileType") -> None:
    """Fail early, with a clear reason, on encrypted files and on files whose content is not
    the container their extension promises (garbage named .docx)."""
    head = _head(path)
    if head.startswith(OLE_MAGIC) and _office_encrypted(path):
        raise ParseError("encrypted: password-protected Office document")
    zip_kinds = {"DOCX", "PPTX", "XLSX", "ODT", "EPUB"}
    if kind.name in zip_kinds and not zipfile.is_zipfile(path):
        if head.startswith(b"PK"):
            raise ParseError(f"corrupt {kind.name} file: the ZIP container is damaged or cut off")
        raise ParseError(f"not a valid {kind.name} file: the content is {_describe(path)}")
    if kind.name in {"DOC", "PPT", "XLS", "MSG"} and not head.startswith(OLE_MAGIC):
        raise ParseError(f"not a valid {kind.name} file: the content is {_describe(path)}")
    if kind.name == "ODT" and _odf_encrypted(path):
        raise ParseError("encrypted: password-protected OpenDocument file")


def _head(path: Path, size: int = 8) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _office_encrypted(path: Path) -> bool:
    """Password-protected Office files (legacy and OOXML alike) are OLE containers that
    msoffcrypto-tool recognises as encrypted."""
    import msoffcrypto

    with path.open("rb") as handle:
        try:
            return bool(msoffcrypto.OfficeFile(handle).is_encrypted())
        except Exception:  # not an Office format it knows (e.g. an Outlook .msg): not ours
            return False


def _odf_encrypted(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        try:
            manifest = archive.read("META-INF/manifest.xml")
        except KeyError:
            return False
    return b"encryption-data" in manifest
