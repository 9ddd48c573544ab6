"""Chunks never exceed what the embedder reads, keep their headings, and split at sentences."""

import itertools
import re
from pathlib import Path

from enclave.embedder import Embedder
from ingest.chunking import chunk_document, split_to_budget
from ingest.parsers import document_title, parse_file


def test_long_section_is_split_within_the_token_bound(tmp_path: Path, embedder: Embedder) -> None:
    sentences = [
        f"Rule {i}: invoices from supplier number {i} are paid within {i + 7} days."
        for i in range(120)
    ]
    path = tmp_path / "policy.md"
    path.write_text("# Payment policy\n\n## Suppliers\n\n" + " ".join(sentences) + "\n")
    elements = parse_file(path)[0].elements
    title = document_title(elements, path)
    chunks = chunk_document(elements, title, embedder, max_tokens=128)
    assert title == "Payment policy" and len(chunks) > 5
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal
        assert embedder.count_tokens(chunk.embed_text) <= 128
        assert chunk.embed_text.startswith("Payment policy")
    assert chunks[-1].heading == "Suppliers"  # the title itself leads the prefix
    assert chunks[-1].embed_text.startswith("Payment policy › Suppliers\n")
    # Split at sentence ends: every piece ends where a sentence ends.
    assert all(c.text.rstrip().endswith(".") for c in chunks[1:])
    # Consecutive pieces overlap by one short sentence.
    sentences = [re.split(r"(?<=\.)\s+", c.text) for c in chunks[1:]]
    assert all(a[-1] == b[0] for a, b in itertools.pairwise(sentences))
    # Nothing lost: every rule survives in some chunk.
    joined = " ".join(c.text for c in chunks)
    assert all(f"supplier number {i} " in joined for i in range(120))


def test_a_sentence_longer_than_the_budget_is_split_at_words(embedder: Embedder) -> None:
    text = " ".join(f"word{i}" for i in range(400))
    pieces = split_to_budget(text, 50, embedder)
    assert len(pieces) > 1
    assert all(embedder.count_tokens_batch([p])[0] <= 50 for p in pieces)
    assert " ".join(pieces) == text


def test_heading_path_follows_the_outline(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "handbook.md"
    path.write_text(
        "# Handbook\n\nIntro text for everyone.\n\n"
        "## Leave\n\nLeave overview paragraph.\n\n"
        "### Parental leave\n\nSixteen weeks of paid parental leave.\n\n"
        "## Travel\n\nBook trains through the portal.\n"
    )
    elements = parse_file(path)[0].elements
    chunks = chunk_document(elements, "Handbook", embedder, max_tokens=40)
    headings = {c.text.splitlines()[-1]: c.heading for c in chunks}
    assert headings["Sixteen weeks of paid parental leave."] == "Leave › Parental leave"
    assert headings["Book trains through the portal."] == "Travel"
