"""Small document builders for tests and for regenerating ``samples/``.

``write_text_pdf`` and ``write_corrupt_pdf`` are pure Python (standard library only).
``write_docx`` needs python-docx, which is imported lazily so the PDF helpers work without it.
"""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

__all__ = ["write_corrupt_pdf", "write_docx", "write_text_pdf"]

PAGE_WIDTH = 595  # A4 in PDF points
PAGE_HEIGHT = 842
MARGIN_LEFT = 56
MARGIN_TOP = 60
MARGIN_BOTTOM = 50
FONT_SIZE = 11
LEADING = 14  # distance between baselines
WRAP_WIDTH = 90
MAX_LINES_PER_PAGE = (PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM) // LEADING


def _pdf_literal(text: str) -> bytes:
    """Encode ``text`` as a PDF literal string ``(...)`` in WinAnsi (cp1252) encoding."""
    raw = text.encode("cp1252", errors="replace")
    out = bytearray(b"(")
    for byte in raw:
        if byte in (0x28, 0x29, 0x5C):  # ( ) \
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte > 0x7E:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b")"
    return bytes(out)


def _pdf_text_string(text: str) -> bytes:
    """Encode a document-level text string (e.g. /Title): literal if ASCII, else UTF-16BE hex."""
    if text.isascii():
        return _pdf_literal(text)
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _wrap_page(text: str) -> list[str]:
    """Split a page's text into lines: keep explicit newlines, wrap long lines at WRAP_WIDTH."""
    lines: list[str] = []
    for paragraph in text.splitlines():
        if not paragraph.strip():
            lines.append("")
            continue
        lines.extend(textwrap.wrap(paragraph, width=WRAP_WIDTH, break_long_words=True))
    return lines


def _content_stream(lines: list[str]) -> bytes:
    """Build a page content stream drawing ``lines`` top-down in Helvetica."""
    y = PAGE_HEIGHT - MARGIN_TOP
    parts = [b"BT", b"/F1 %d Tf" % FONT_SIZE, b"%d %d Td" % (MARGIN_LEFT, y)]
    for index, line in enumerate(lines):
        if index:
            parts.append(b"0 -%d Td" % LEADING)
        if line:
            parts.append(_pdf_literal(line) + b" Tj")
    parts.append(b"ET")
    return b"\n".join(parts) + b"\n"


def write_text_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """Write a valid PDF 1.4 with a real text layer, one page per string in ``pages``.

    Lines longer than ~90 characters are wrapped; explicit newlines start new lines.
    Raises ``ValueError`` if there are no pages or a page has too many lines to fit.
    """
    if not pages:
        raise ValueError("a PDF needs at least one page")
    wrapped = [_wrap_page(page) for page in pages]
    for number, lines in enumerate(wrapped, start=1):
        if len(lines) > MAX_LINES_PER_PAGE:
            raise ValueError(
                f"page {number} has {len(lines)} lines; at most {MAX_LINES_PER_PAGE} fit"
            )

    # Object numbers: 1 Catalog, 2 Pages, 3 Font, 4 Info, then (page, content) pairs.
    page_ids = [5 + 2 * i for i in range(len(pages))]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % pid for pid in page_ids)
        + b"] /Count %d >>" % len(pages),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        4: b"<< "
        + (b"/Title " + _pdf_text_string(title) + b" " if title is not None else b"")
        + b"/Producer (Enclave tests docs_factory) >>",
    }
    for pid, lines in zip(page_ids, wrapped, strict=True):
        stream = _content_stream(lines)
        objects[pid] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d]"
            b" /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
            % (PAGE_WIDTH, PAGE_HEIGHT, pid + 1)
        )
        objects[pid + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream"

    buf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(buf)
        buf += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"

    size = max(objects) + 1
    xref_offset = len(buf)
    buf += b"xref\n0 %d\n" % size
    buf += b"0000000000 65535 f \n"
    for number in range(1, size):
        buf += b"%010d 00000 n \n" % offsets[number]
    buf += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\n" % size
    buf += b"startxref\n%d\n%%%%EOF\n" % xref_offset

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(buf))
    return path


def write_docx(path: Path, title: str, sections: list[tuple[str, list[str]]]) -> Path:
    """Write a DOCX: ``title`` as Heading 1, one Heading 2 per section, paragraphs below."""
    import docx  # python-docx; imported lazily to keep this module dependency-light

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading(title, level=1)
    for heading, paragraphs in sections:
        document.add_heading(heading, level=2)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def write_corrupt_pdf(path: Path) -> Path:
    """Write a file with a ``%PDF-1.4`` header followed by deterministic garbage.

    There is no object, xref table, trailer or ``%%EOF``, so PDF parsers must fail on it.
    """
    noise = random.Random(1337).randbytes(512).replace(b"obj", b"xxx")
    body = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + noise + b"\n1 0 ob"  # truncated mid-token
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path
