"""The public example-docs corpus (real and awkward files from the unstructured project)
through the parse pool and the real chunker: every file yields chunks, or a reason that is
recorded. Nothing is dropped silently.

Prints a summary (ok / failed by reason), the wall time and the slowest files.
"""

import shutil
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from enclave.embedder import Embedder
from ingest.chunking import chunk_document
from ingest.discovery import is_candidate
from ingest.parse_pool import ParsePool, ParseResult, default_workers
from ingest.parsers import ParsedPart
from tests.conftest import SHARED

CORPUS = SHARED / "corpus" / "example-docs"
MAX_CHUNK_TOKENS = 256

pytestmark = pytest.mark.slow


def install_egress_guard() -> None:
    """Runs in each worker: a parser that tries to reach the network fails its file loudly."""
    from tests.support.egress_guard import GUARD

    GUARD.install()


@dataclass
class FileOutcome:
    name: str
    discovered: bool  # whether `enclave ingest` picks the file up by its suffix
    chunks: int
    reason: str | None
    attachments_ok: int
    attachments_failed: int
    seconds: float


def _chunks(part: ParsedPart, embedder: Embedder) -> int:
    return len(chunk_document(part.elements, part.title, embedder, MAX_CHUNK_TOKENS))


def _outcome(result: ParseResult, embedder: Embedder) -> FileOutcome:
    name = str(result.path.relative_to(CORPUS))
    discovered = is_candidate(result.path)
    if not isinstance(result.outcome, list):
        return FileOutcome(name, discovered, 0, str(result.outcome), 0, 0, result.seconds)
    own, *attachments = result.outcome
    chunks = _chunks(own, embedder)
    # As the pipeline records it: a part with elements but no chunks has no text.
    reason = None if chunks else (own.error or "no text could be extracted")
    attached = [_chunks(part, embedder) if not part.error else 0 for part in attachments]
    ok = sum(1 for count in attached if count)
    return FileOutcome(name, discovered, chunks, reason, ok, len(attachments) - ok, result.seconds)


def _summary(outcomes: list[FileOutcome], wall: float, workers: int) -> str:
    ok = [o for o in outcomes if o.reason is None]
    reasons = Counter(o.reason for o in outcomes if o.reason is not None)
    lines = [
        f"example-docs: {len(outcomes)} files, {len(ok)} ok "
        f"({sum(o.chunks for o in ok)} chunks), {len(outcomes) - len(ok)} failed with a "
        f"reason; wall {wall:.0f} s with {workers} parse workers",
        f"attachments: {sum(o.attachments_ok for o in outcomes)} ok, "
        f"{sum(o.attachments_failed for o in outcomes)} failed with a reason",
        "",
        "| outcome | files | examples |",
        "| --- | --- | --- |",
        f"| ok | {len(ok)} | |",
    ]
    for reason, count in reasons.most_common():
        names = [o.name for o in outcomes if o.reason == reason]
        lines.append(f"| {reason} | {count} | {', '.join(names[:3])} |")
    lines += ["", "slowest files (seconds in the parser):"]
    for o in sorted(outcomes, key=lambda o: -o.seconds)[:10]:
        lines.append(f"  {o.seconds:7.1f}  {o.name}  ({o.reason or f'{o.chunks} chunks'})")
    skipped = [o.name for o in outcomes if not o.discovered]
    lines += ["", f"not picked up by discovery (suffix): {', '.join(skipped)}"]
    return "\n".join(lines)


def test_every_example_doc_yields_chunks_or_a_reason(
    embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the example-docs corpus is absent ({CORPUS})")
    files = sorted(path for path in CORPUS.rglob("*") if path.is_file())
    workers = max(2, default_workers())
    started = time.monotonic()
    with ParsePool(workers, initializer=install_egress_guard) as pool:
        outcomes = [_outcome(result, embedder) for result in pool.map_unordered(files)]
    wall = time.monotonic() - started
    with capsys.disabled():
        print("\n" + _summary(sorted(outcomes, key=lambda o: o.name), wall, workers))

    assert len(outcomes) == len(files)
    for outcome in outcomes:
        assert outcome.chunks > 0 or (outcome.reason and outcome.reason.strip()), outcome
        assert "egress guard" not in (outcome.reason or ""), outcome
    by_name = {o.name: o for o in outcomes}
    expected_reasons = {
        "pdf/password.pdf": "encrypted: the PDF needs a password to open",
        "password_protected.xlsx": "encrypted: password-protected Office document",
        "eml/fake-encrypted.eml": "encrypted: PGP/MIME-encrypted email",
        "fake-encrypted.msg": "encrypted: S/MIME-encrypted Outlook message",
        "empty.txt": "empty file",
        "fake-text-all-whitespace.txt": "no text found in the file",
        "simple.zip": "unsupported file type: Zip archive data",
    }
    for name, reason in expected_reasons.items():
        assert by_name[name].reason == reason, by_name[name]
    # A spread of formats that must read: text layers, OCR, legacy Office, pandoc formats.
    for name in (
        "pdf/layout-parser-paper-fast.pdf",
        "pdf/failure-after-repair.pdf",  # unstructured's "too complex" check: read by pypdf
        "fake-email-attachment.msg",
        "eml/fake-email-attachment.eml",
        "stanley-cups-utf-16.csv",
        "fake-doc.rtf",
        "fake.odt",
        "winter-sports.epub",
        "README.rst",
        "README.org",
        "tests-example.xls",
        "umlauts-non-utf8.md",
    ):
        assert by_name[name].chunks > 0, by_name[name]
    if shutil.which("tesseract"):
        assert by_name["img/layout-parser-paper-fast.jpg"].chunks > 0
        assert by_name["pdf/loremipsum-flat.pdf"].chunks > 0  # a scan
    if shutil.which("soffice"):
        assert by_name["fake.doc"].chunks > 0 and by_name["fake-power-point.ppt"].chunks > 0
