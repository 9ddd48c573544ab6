"""Plain-text formats (text, markdown, HTML, CSV/TSV, XML, JSON/NDJSON) and their encodings."""

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.parsers.common import LANGUAGES, ParseError, _describe, _partition

if TYPE_CHECKING:
    from unstructured.documents.elements import Element
    from unstructured.file_utils.model import FileType


def _partition_text_kind(path: Path, kind: "FileType") -> list["Element"]:
    """Plain-text formats, decoded with `text_encoding`; if that still fails, as cp1252 (the
    usual legacy encoding of office files), then latin-1, which decodes any byte."""
    from unstructured.errors import UnprocessableEntityError

    try:
        return _partition_text_or_rows(path, encoding=text_encoding(path))
    except (UnicodeError, UnprocessableEntityError) as error:
        if isinstance(error, UnprocessableEntityError) and "encoding" not in str(error):
            raise
        first_error: Exception = error
    for encoding in ("cp1252", "latin-1"):
        try:
            return _partition_text_or_rows(path, encoding=encoding)
        except UnicodeError:
            continue
    raise first_error


def _partition_text_or_rows(path: Path, encoding: str | None) -> list["Element"]:
    """A CSV/TSV whose rows pandas cannot line up (ragged rows) is still rows of text."""
    try:
        return _partition(path, encoding=encoding)
    except Exception as error:
        if type(error).__name__ != "ParserError":  # pandas.errors.ParserError
            raise
    from unstructured.partition.text import partition_text

    text = decode_text(path.read_bytes(), encoding)
    return list(partition_text(text=text, metadata_filename=str(path), languages=LANGUAGES))


_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")  # UTF-8, UTF-16/32 LE, UTF-16/32 BE
_DECLARED_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)


def text_encoding(path: Path) -> str | None:
    """The encoding to decode a text file with; None leaves it to unstructured.

    unstructured handles byte-order marks, UTF-8 and UTF-16/32 itself. For legacy single-byte
    text it trusts charset-normalizer's guess, which takes Western European cp1252 text for
    Central European cp1250 (French "à" would read "ŕ", Norwegian "ø" "ř"). When cp1252
    decodes the bytes with no more "mess" than the guess, cp1252 is the likelier writer.
    An HTML page's own charset declaration wins over any guess.
    """
    data = path.read_bytes()
    if data.startswith(_BOMS):
        return None
    if b"\x00" in data:
        return _wide_encoding(data, path)
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    declared = _declared_charset(data)
    if declared:
        return declared
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        if not _looks_like_text(path):
            raise ParseError(f"not a text file: the content is {_describe(path)}")
        return None  # unstructured tries, then the cp1252/latin-1 fallback
    if best.encoding == "cp1252":
        return "cp1252"
    candidates = {m.encoding: m for m in from_bytes(data, cp_isolation=["cp1252", best.encoding])}
    western, guessed = candidates.get("cp1252"), candidates.get(best.encoding)
    if western is not None and (guessed is None or western.chaos <= guessed.chaos):
        return "cp1252"
    return str(best.encoding)


def _wide_encoding(data: bytes, path: Path) -> str:
    """NUL bytes without a BOM: UTF-16/32 text, or binary data behind a text extension."""
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        try:
            text = data.decode(encoding)
        except UnicodeError:
            continue
        printable = sum(1 for c in text if c.isprintable() or c in "\t\n\r\f")
        if printable >= 0.95 * len(text):
            return encoding
    raise ParseError(f"not a text file: the content is {_describe(path)}")


def _declared_charset(data: bytes) -> str | None:
    import codecs

    match = _DECLARED_CHARSET.search(data[:4096])
    if not match:
        return None
    name = match.group(1).decode("ascii", "replace").lower()
    # Browsers read latin-1 and ASCII declarations as windows-1252; so do the people who
    # wrote those pages.
    if name in {"iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"}:
        name = "cp1252"
    try:
        codecs.lookup(name)
        data.decode(name)
    except (LookupError, UnicodeError):
        return None
    return name


def _looks_like_text(path: Path) -> bool:
    import magic

    try:
        mime = str(magic.from_file(str(path), mime=True))
    except Exception:
        return True  # no verdict: let the decoders decide
    return mime.startswith("text/") or mime.endswith(("json", "xml"))


def _partition_json(path: Path, kind: "FileType") -> list["Element"]:
    """JSON and NDJSON as text: unstructured pretty-prints each record (and rehydrates its own
    serialised elements). JSON that does not parse is still text, so it is read as such."""
    from unstructured.partition.text import partition_text

    try:
        return _partition(path)
    except (ValueError, UnicodeError):  # "Not a valid json", or not UTF-8
        text = decode_text(path.read_bytes())
    if kind.name == "JSON":
        from unstructured.partition.json import partition_json

        try:
            return list(partition_json(text=text, metadata_filename=str(path)))
        except ValueError:
            pass
    return list(partition_text(text=text, metadata_filename=str(path), languages=LANGUAGES))


def decode_text(data: bytes, encoding: str | None = None) -> str:
    """Decode text bytes as unstructured does (BOM, UTF-8, detection), else cp1252/latin-1."""
    from unstructured.file_utils.encoding import detect_file_encoding

    if encoding:
        return data.decode(encoding)
    try:
        return detect_file_encoding(file=data)[1]
    except Exception:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeError:
        return data.decode("latin-1")
