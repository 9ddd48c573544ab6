"""Turn a file into unstructured elements, or a ParseError that says why not.

One file can hold several documents: an email's body and each of its attachments come back as
separate parts, so a search hit cites the attached report rather than the whole message.

The file type is detected from the content (unstructured's detection: libmagic, ZIP and OLE
inspection), so a PDF named `.txt` is read as a PDF. Everything a parser raises becomes a
ParseError with a reason a person can act on: the file fails alone and the job goes on.
"""

import email
import email.policy
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unstructured.documents.elements import Element
    from unstructured.file_utils.model import FileType

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 200 * MIB
# The documents' language: spares unstructured a detection per element, and names the
# tesseract model to OCR with (Debian's tesseract-ocr ships English, tesseract-ocr-eng).
LANGUAGES = ["eng"]
NO_TEXT_LAYER = "no text layer (install tesseract-ocr for OCR)"
NO_TEXT = "no text found in the file"
# Attachments of attachments (a forwarded email with a PDF) are followed this deep.
MAX_ATTACHMENT_DEPTH = 3
# LibreOffice converts .doc/.ppt; the pool's per-file timeout is the outer bound, this one
# stops a stuck soffice even when parse_file runs without the pool.
SOFFICE_TIMEOUT_S = 300
# Detached signatures are proof of origin, not documents: indexing them would only add noise.
SIGNATURE_TYPES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
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


def parse_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[ParsedPart]:
    """The documents in `path`: the file itself first, then any attachments.

    Raises ParseError when the file itself cannot be read.
    """
    return _parse(Path(path), max_bytes=max_bytes, depth=0)


def document_title(elements: list["Element"], path: Path) -> str:
    """The first short title-like element, else a readable form of the file name."""
    for element in elements[:20]:
        text = element.text.strip()
        # A real title has a word in it: rotated margin text ("n u J", an arXiv stamp read
        # letter by letter) and page furniture are classified as titles too.
        if element.category == "Title" and 2 <= len(text) <= 200 and _WORD.search(text):
            return text
    return path.stem.replace("_", " ").replace("-", " ").strip() or path.name


# --- dispatch -------------------------------------------------------------------------------


def _parse(path: Path, *, max_bytes: int, depth: int) -> list[ParsedPart]:
    try:
        _check_size(path, max_bytes)
        kind = detect_kind(path)
        _check_container(path, kind)
        if kind.name == "EML":
            return _parse_eml(path, max_bytes=max_bytes, depth=depth)
        if kind.name == "MSG":
            return _parse_msg(path, max_bytes=max_bytes, depth=depth)
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
    handlers: dict[str, Callable[[Path, FileType], list[Element]]] = {
        "PDF": _partition_pdf,
        "DOC": _partition_via_soffice,
        "PPT": _partition_via_soffice,
        "JSON": _partition_json,
        "NDJSON": _partition_json,
    }
    if kind.partitioner_shortname == "image":
        return _ocr(path)
    if kind.name in {"RTF", "ODT", "EPUB", "RST", "ORG"}:
        _require_pandoc(path)
    if kind.name in {"TXT", "HTML", "MD", "CSV", "TSV", "XML"}:
        return _partition_text_kind(path)
    return handlers.get(kind.name, _partition_as_detected)(path, kind)


def _partition(path: Path, **options: Any) -> list["Element"]:
    # Imported lazily: unstructured's import takes seconds and is only needed when parsing.
    from unstructured.partition.auto import partition

    options.setdefault("languages", LANGUAGES)
    return list(partition(filename=str(path), **options))


def _partition_as_detected(path: Path, kind: "FileType") -> list["Element"]:
    return _partition(path)


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


# --- PDF and OCR ----------------------------------------------------------------------------


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


@cache
def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


# --- text formats ---------------------------------------------------------------------------


def _partition_text_kind(path: Path) -> list["Element"]:
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


# --- legacy Office formats ------------------------------------------------------------------


def _partition_via_soffice(path: Path, kind: "FileType") -> list["Element"]:
    """.doc/.ppt: LibreOffice converts to DOCX/PPTX, which unstructured then reads.

    Converted here rather than by unstructured so that each conversion gets its own
    LibreOffice profile: two soffice processes sharing a profile (parallel workers) make the
    second one fail or wait.
    """
    soffice = shutil.which("soffice")
    if soffice is None:
        raise ParseError(
            f"{path.suffix or kind.name} needs LibreOffice: soffice is not on the PATH "
            "(install libreoffice-writer-nogui / libreoffice-impress-nogui)"
        )
    target = "docx" if kind.name == "DOC" else "pptx"
    with tempfile.TemporaryDirectory(prefix="enclave-soffice-") as work:
        converted = _soffice_convert(soffice, path, target, Path(work))
        elements = _partition(converted, metadata_filename=str(path))
    for element in elements:
        element.metadata.file_directory = str(path.parent)
        element.metadata.filename = path.name
    return elements


def _soffice_convert(soffice: str, source: Path, target: str, work: Path) -> Path:
    # The source is copied under a plain name: soffice names its output after the input,
    # and file names with spaces or dots must not change that.
    staged = work / f"source{source.suffix.lower()}"
    shutil.copyfile(source, staged)
    command = [
        soffice,
        "--headless",
        "--norestore",
        "--nolockcheck",
        f"-env:UserInstallation={(work / 'profile').as_uri()}",
        "--convert-to",
        target,
        "--outdir",
        str(work / "out"),
        str(staged),
    ]
    result = subprocess.run(command, capture_output=True, timeout=SOFFICE_TIMEOUT_S, check=False)
    converted = work / "out" / f"source.{target}"
    if not converted.is_file():
        detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        last = detail.splitlines()[-1] if detail else f"exit status {result.returncode}"
        raise ParseError(f"LibreOffice could not convert the file: {last}"[:500])
    return converted


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


# --- email ----------------------------------------------------------------------------------


def _parse_eml(path: Path, *, max_bytes: int, depth: int) -> list[ParsedPart]:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    _check_eml_encryption(message)
    body = _email_body(path, message)
    attachments = list(_eml_attachments(message))
    header = _email_header(
        subject=_header(message, "Subject"),
        sender=_header(message, "From"),
        to=_header(message, "To"),
        cc=_header(message, "Cc"),
        date=_header(message, "Date"),
        attachment_names=[name for name, _ in attachments],
    )
    return _email_parts(path, header, body, attachments, max_bytes=max_bytes, depth=depth)


def _check_eml_encryption(message: Message) -> None:
    content_type = message.get_content_type()
    if content_type == "multipart/encrypted":
        raise ParseError("encrypted: PGP/MIME-encrypted email")
    if content_type in {"application/pkcs7-mime", "application/x-pkcs7-mime"}:
        smime_type = str(message.get_param("smime-type", "") or "").lower()
        if smime_type != "signed-data":
            raise ParseError("encrypted: S/MIME-encrypted email")


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header must not cost the whole message
        return ""
    return " ".join(str(value).split()) if value else ""


def _email_body(path: Path, message: Message) -> list["Element"]:
    """The message body through unstructured (HTML preferred, else plain text), attachments
    left to the caller so each becomes its own part."""
    try:
        return _partition(path, process_attachments=False)
    except (AssertionError, AttributeError, TypeError, LookupError, UnicodeError):
        # unstructured expects a str body; a digest or a body with a broken charset is not.
        text = _fallback_body_text(message)
        if not text:
            return []
        from unstructured.partition.text import partition_text

        return list(partition_text(text=text, metadata_filename=str(path), languages=LANGUAGES))


def _fallback_body_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_maintype() == "text" and part.get_content_disposition() is None:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload.strip():
                return decode_text(payload)
    return ""


def _eml_attachments(message: Message) -> Iterator[tuple[str, bytes]]:
    body = None
    if isinstance(message, EmailMessage):
        try:
            body = message.get_body(preferencelist=("html", "plain"))
        except Exception:
            body = None
    yield from _leaf_attachments(message, body, top=True)


def _leaf_attachments(
    part: Message, body: Message | None, *, top: bool
) -> Iterator[tuple[str, bytes]]:
    content_type = part.get_content_type()
    if part is body or content_type in SIGNATURE_TYPES:
        return
    if content_type == "message/rfc822" and not top:
        # A forwarded or attached email: it becomes a part of its own, with its attachments.
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            subject = _header(inner[0], "Subject") or "message"
            yield part.get_filename() or f"{subject}.eml", inner[0].as_bytes()
        return
    if part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from _leaf_attachments(sub, body, top=False)
        return
    if top:
        return  # a single-part message is all body
    filename = part.get_filename()
    inline_image = content_type.startswith("image/") and part.get("Content-ID")
    if part.get_content_disposition() == "attachment" or (filename and not inline_image):
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            yield filename or "attachment", payload


def _parse_msg(path: Path, *, max_bytes: int, depth: int) -> list[ParsedPart]:
    from oxmsg import Message as OutlookMessage

    message = OutlookMessage.load(str(path))
    if _msg_encrypted(message):
        raise ParseError("encrypted: S/MIME-encrypted Outlook message")
    body = _partition(path, process_attachments=False)
    # An attached Outlook item (a message or contact kept as an object, not a file) has no
    # file bytes: it becomes a part that says so.
    attachments = [
        (attachment.file_name or "attachment", attachment.file_bytes)
        for attachment in message.attachments
        if (attachment.mime_type or "") not in SIGNATURE_TYPES
    ]
    headers = message.message_headers
    header = _email_header(
        subject=" ".join((message.subject or "").split()),
        sender=message.sender or "",
        to=" ".join(str(headers.get("To", "")).split()) or _msg_recipients(message),
        cc=" ".join(str(headers.get("Cc", "")).split()),
        date=message.sent_date.isoformat() if message.sent_date else "",
        attachment_names=[name for name, _ in attachments],
    )
    return _email_parts(path, header, body, attachments, max_bytes=max_bytes, depth=depth)


def _msg_recipients(message: Any) -> str:
    """Recipients from the message's own table, for messages saved without MIME headers."""
    names = []
    for recipient in message.recipients:
        name, address = recipient.name or "", recipient.email_address or ""
        names.append(f"{name} <{address}>" if name and address else name or address)
    return ", ".join(n for n in names if n)


def _msg_encrypted(message: Any) -> bool:
    message_class = str(getattr(message, "message_class", "") or "")
    content_type = str(message.message_headers.get("Content-Type", ""))
    return "encrypted" in content_type or (
        message_class.upper().startswith("IPM.NOTE.SMIME")
        and "MULTIPARTSIGNED" not in message_class.upper()
    )


def _email_header(
    *, subject: str, sender: str, to: str, cc: str, date: str, attachment_names: list[str]
) -> str:
    """The envelope as text: who wrote to whom, when, about what, and what was attached, so
    that "the email from Anna about the budget" finds the message."""
    lines = [
        f"{label}: {value}"
        for label, value in (
            ("Subject", subject),
            ("From", sender),
            ("To", to),
            ("Cc", cc),
            ("Date", date),
            ("Attachments", ", ".join(_safe_name(n) for n in attachment_names)),
        )
        if value
    ]
    return "\n".join(lines)


def _email_parts(
    path: Path,
    header: str,
    body: list["Element"],
    attachments: Sequence[tuple[str, bytes | None]],
    *,
    max_bytes: int,
    depth: int,
) -> list[ParsedPart]:
    from unstructured.documents.elements import ElementMetadata, Text

    elements = _tables_as_rows(list(body))
    if header:
        metadata = ElementMetadata(filename=path.name, file_directory=str(path.parent))
        elements.insert(0, Text(text=header, metadata=metadata))
    if not _has_text(elements) and not attachments:
        raise ParseError("no text found: the message has no body and no attachments")
    subject = next((line[9:] for line in header.splitlines() if line.startswith("Subject: ")), "")
    parts = [ParsedPart("", subject or document_title(elements, path), elements)]
    names: set[str] = set()
    for raw_name, data in attachments:
        name = _unique(_safe_name(raw_name), names)
        parts.extend(_attachment_parts(name, data, path, max_bytes=max_bytes, depth=depth))
    return parts


def _attachment_parts(
    name: str, data: bytes | None, container: Path, *, max_bytes: int, depth: int
) -> list[ParsedPart]:
    """An attachment is parsed by its own type, from a temporary file named like it."""
    title = document_title([], Path(name))
    if data is None:
        return [ParsedPart(name, title, error="embedded Outlook item, not a file: not read")]
    if depth + 1 > MAX_ATTACHMENT_DEPTH:
        return [ParsedPart(name, title, error="attachment nested too deeply")]
    with tempfile.TemporaryDirectory(prefix="enclave-attachment-") as folder:
        detached = Path(folder) / name
        detached.write_bytes(data)
        try:
            inner = _parse(detached, max_bytes=max_bytes, depth=depth + 1)
        except ParseError as error:
            return [ParsedPart(name, title, error=str(error))]
    parts = []
    for part in inner:
        for element in part.elements:
            element.metadata.file_directory = None  # the temporary folder is gone
            element.metadata.attached_to_filename = container.name
        full_name = f"{name}/{part.name}" if part.name else name
        parts.append(ParsedPart(full_name, part.title, part.elements, part.error))
    return parts


def _safe_name(raw: str) -> str:
    """A plain file name: no folders (path traversal), no control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f]", "", name).strip()
    return name if name not in {"", ".", ".."} else "attachment"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        stem, dot, suffix = name.rpartition(".")
        candidate = f"{stem} ({number}).{suffix}" if dot and stem else f"{name} ({number})"
    taken.add(candidate)
    return candidate
