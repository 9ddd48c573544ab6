"""Email (.eml, Outlook .msg): the message is one part, each attachment a part of its own,
parsed by its own type."""

import email
import email.policy
import re
import tempfile
from collections.abc import Iterator, Sequence
from email.message import EmailMessage, Message
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.parsers.common import (
    LANGUAGES,
    ParsedPart,
    ParseError,
    _has_text,
    _partition,
    _tables_as_rows,
    document_title,
)
from ingest.parsers.registry import _parse
from ingest.parsers.text import decode_text

if TYPE_CHECKING:
    from unstructured.documents.elements import Element

# Attachments of attachments (a forwarded email with a PDF) are followed this deep.
MAX_ATTACHMENT_DEPTH = 3
# Detached signatures are proof of origin, not documents: indexing them would only add noise.
SIGNATURE_TYPES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)


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
