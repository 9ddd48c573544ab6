"""One contract for every store backend that runs here: the embedded Edge engine (default)
and qdrant-client's local mode. A Qdrant server goes through the same qdrant-client code as
local mode (only the client's construction differs), so it is held to this contract too."""

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from enclave.embedder import Embedder
from enclave.settings import ConfigurationError, Settings
from enclave.vectorstore import ChunkRecord, SearchFilter, SearchMode, VectorStore, open_store
from enclave.vectorstore.lexical import encode_document, encode_query, terms
from tests.conftest import make_settings
from tests.support.paths import ROOT

BACKENDS = ["edge", "local"]

CHUNKS = [
    # (document, ordinal, title, text, groups, source, file type, modified)
    ("travel", 0, "Travel policy", "Expenses above 500 euros need approval by the CFO.",
     ["public"], "policies", "pdf", datetime(2024, 1, 10, tzinfo=UTC)),
    ("travel", 1, "Travel policy", "Train travel is booked in second class.",
     ["public"], "policies", "pdf", datetime(2024, 1, 10, tzinfo=UTC)),
    ("salaries", 0, "Salary bands", "Engineering salary bands for 2024 and their review.",
     ["hr"], "hr-drive", "xlsx", datetime(2024, 6, 1, tzinfo=UTC)),
    ("wifi", 0, "Office guide", "The guest wifi network is called Northwind-Guest.",
     ["public"], "office", "txt", datetime(2023, 3, 5, tzinfo=UTC)),
    ("wifi", 1, "Office guide", "The cafeteria opens at eight and serves lunch until two.",
     ["public"], "office", "txt", datetime(2023, 3, 5, tzinfo=UTC)),
]  # fmt: skip


def records() -> list[ChunkRecord]:
    return [
        ChunkRecord(
            document_id=doc, ordinal=n, text=text, title=title, source=f"/files/{doc}",
            page=None, heading="", file_type=kind, groups=groups, source_name=source,
            modified=modified.timestamp(),
        )
        for doc, n, title, text, groups, source, kind, modified in CHUNKS
    ]  # fmt: skip


def backend_settings(tmp_path: Path, backend: str) -> Settings:
    return make_settings(tmp_path / "var", embedded_store=backend)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def filled(tmp_path: Path, backend: str, embedder: Embedder) -> Iterator[VectorStore]:
    store = open_store(backend_settings(tmp_path, backend))
    store.ensure_collection(embedder.dimension)
    chunks = records()
    store.upsert(chunks, embedder.embed_documents([f"{c.title}\n{c.text}" for c in chunks]))
    yield store
    store.close()


def search(
    store: VectorStore,
    embedder: Embedder,
    query: str,
    mode: SearchMode,
    k: int = 5,
    **filters: object,
) -> list[tuple[str, int]]:
    hits = store.search(
        embedder.embed_query(query), k, text=query, mode=mode,
        filters=SearchFilter(**filters) if filters else None,  # type: ignore[arg-type]
    )  # fmt: skip
    return [(h.document_id, h.ordinal) for h in hits]


@pytest.mark.parametrize("mode", list(SearchMode))
def test_each_mode_finds_the_chunk_that_answers(
    filled: VectorStore, embedder: Embedder, mode: SearchMode
) -> None:
    assert search(filled, embedder, "Who approves expenses?", mode)[0] == ("travel", 0)
    assert search(filled, embedder, "guest wifi network name", mode)[0] == ("wifi", 0)


def test_sparse_matches_stems_and_ignores_stop_words(
    filled: VectorStore, embedder: Embedder
) -> None:
    # "approval" in the chunk, "approved" in the query: one stem.
    assert search(filled, embedder, "approved", SearchMode.SPARSE) == [("travel", 0)]
    assert search(filled, embedder, "the of and", SearchMode.SPARSE) == []
    assert search(filled, embedder, "zeppelin", SearchMode.SPARSE) == []


def test_every_hit_carries_cosine_relevance_whatever_the_mode(
    filled: VectorStore, embedder: Embedder
) -> None:
    query = "Who approves expenses?"
    vector = embedder.embed_query(query)
    expected = float(vector @ embedder.embed_documents(
        ["Travel policy\nExpenses above 500 euros need approval by the CFO."]
    )[0])  # fmt: skip
    for mode in SearchMode:
        top = filled.search(vector, 1, text=query, mode=mode)[0]
        assert top.relevance == pytest.approx(expected, abs=1e-3), mode


@pytest.mark.parametrize("mode", list(SearchMode))
def test_filters_apply_inside_the_query(
    filled: VectorStore, embedder: Embedder, mode: SearchMode
) -> None:
    query = "salary bands expenses wifi cafeteria travel"
    # With k=1 a post-filter would return nothing; filtered queries still fill the page.
    assert search(filled, embedder, query, mode, k=1, groups=["hr"]) == [("salaries", 0)]
    assert {d for d, _ in search(filled, embedder, query, mode, groups=["public"])} == {
        "travel", "wifi"
    }  # fmt: skip
    assert search(filled, embedder, query, mode, groups=[]) == []
    assert {d for d, _ in search(filled, embedder, query, mode, sources=["office"])} == {"wifi"}
    assert {d for d, _ in search(filled, embedder, query, mode, file_types=["pdf", "xlsx"])} == {
        "travel", "salaries"
    }  # fmt: skip
    assert search(filled, embedder, query, mode, document_ids=["wifi"], k=1)[0][0] == "wifi"
    recent = search(
        filled, embedder, query, mode, modified_after=datetime(2024, 1, 1, tzinfo=UTC),
        modified_before=datetime(2024, 3, 1, tzinfo=UTC),
    )  # fmt: skip
    assert {d for d, _ in recent} == {"travel"}


def test_upsert_is_idempotent_and_deletes_are_exact(
    filled: VectorStore, embedder: Embedder
) -> None:
    chunks = records()
    filled.upsert(chunks, embedder.embed_documents([c.text for c in chunks]))
    assert filled.count() == len(chunks)
    assert filled.chunk_counts() == {"travel": 2, "salaries": 1, "wifi": 2}
    filled.delete_chunks_from("travel", 1)
    assert filled.count("travel") == 1
    filled.delete_document("wifi")
    assert filled.chunk_counts() == {"travel": 1, "salaries": 1}


def test_changing_groups_rewrites_the_payload_only(filled: VectorStore, embedder: Embedder) -> None:
    query = "salary bands"
    assert search(filled, embedder, query, SearchMode.HYBRID, k=1, groups=["hr"])
    filled.set_groups("salaries", ["finance"])
    assert search(filled, embedder, query, SearchMode.HYBRID, groups=["hr"]) == []
    moved = search(filled, embedder, query, SearchMode.HYBRID, k=1, groups=["finance"])
    assert moved == [("salaries", 0)]
    assert filled.count() == len(CHUNKS)


@pytest.mark.parametrize("mode", [SearchMode.DENSE, SearchMode.SPARSE])
def test_tied_hits_come_back_in_one_fixed_order(
    tmp_path: Path, backend: str, embedder: Embedder, mode: SearchMode
) -> None:
    """Copies of one text tie exactly; they come back in the same order on every call."""
    store = open_store(backend_settings(tmp_path, backend))
    try:
        store.ensure_collection(embedder.dimension)
        ids = ["p-c", "p-a", "p-d", "p-b"]
        text = "Mustangs are free-roaming horses."
        same = embedder.embed_documents([text])[0]
        records = [ChunkRecord(i, 0, text, "Mustang", "set", None, "", "txt") for i in ids]
        store.upsert(records, np.stack([same] * len(ids)))
        for _ in range(3):
            hits = store.search(embedder.embed_query("wild horses"), 3, text="horses", mode=mode)
            assert [h.document_id for h in hits] == ["p-a", "p-b", "p-c"]
    finally:
        store.close()


def test_fused_ties_are_broken_by_cosine(tmp_path: Path, backend: str) -> None:
    """A is first by meaning and second by words, B the reverse: equal fused scores. The
    one closer in meaning comes first, every time."""
    store = open_store(backend_settings(tmp_path, backend))
    try:
        store.ensure_collection(4)
        a = ChunkRecord("a", 0, "alpha beta", "A", "set", None, "", "txt")
        b = ChunkRecord("b", 0, "beta beta beta alpha", "B", "set", None, "", "txt")
        store.upsert([b, a], np.array([[0, 1, 0, 0], [1, 0, 0, 0]], dtype=np.float32))
        query = np.array([0.9, 0.3, 0, 0], dtype=np.float32)
        for _ in range(5):
            hits = store.search(query, 2, text="beta", mode=SearchMode.HYBRID)
            assert [h.document_id for h in hits] == ["a", "b"]
            assert hits[0].score == pytest.approx(hits[1].score)
    finally:
        store.close()


def test_fetch_returns_neighbours_in_order(filled: VectorStore) -> None:
    hits = filled.fetch("wifi", [2, 1, 0])  # ordinal 2 does not exist
    assert [(h.ordinal, h.text.split()[1]) for h in hits] == [(0, "guest"), (1, "cafeteria")]


def test_reopened_store_keeps_its_points(tmp_path: Path, backend: str, embedder: Embedder) -> None:
    settings = backend_settings(tmp_path, backend)
    store = open_store(settings)
    store.ensure_collection(embedder.dimension)
    chunks = records()
    store.upsert(chunks, embedder.embed_documents([c.text for c in chunks]))
    store.close()
    again = open_store(settings)
    try:
        again.ensure_collection(embedder.dimension)
        assert again.count() == len(chunks)
        assert search(again, embedder, "guest wifi", SearchMode.HYBRID)[0] == ("wifi", 0)
    finally:
        again.close()


def test_a_store_built_for_another_embedder_is_refused(tmp_path: Path, backend: str) -> None:
    settings = backend_settings(tmp_path, backend)
    store = open_store(settings)
    store.ensure_collection(8)
    store.close()
    again = open_store(settings)
    try:
        with pytest.raises(ConfigurationError, match="another embedding model"):
            again.ensure_collection(384)
    finally:
        again.close()


def test_a_second_process_is_told_the_store_is_in_use(tmp_path: Path, backend: str) -> None:
    settings = backend_settings(tmp_path, backend)
    store = open_store(settings)
    store.ensure_collection(8)
    code = textwrap.dedent(f"""
        import sys
        from enclave.settings import Settings
        from enclave.vectorstore import StoreInUse, open_store

        s = Settings(data_dir={str(settings.data_dir)!r}, embedded_store={backend!r})
        try:
            open_store(s)
        except StoreInUse as error:
            print("in use:", error)
            sys.exit(3)
    """)
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
            cwd=ROOT,
        )  # fmt: skip
    finally:
        store.close()
    assert result.returncode == 3, result.stderr
    assert "enclave serve" in result.stdout


def test_bm25_weights_saturate_and_normalise_length() -> None:
    assert terms("The approvals were approved") == ["approv", "approv"]
    once, twice = encode_document("budget"), encode_document("budget budget")
    assert twice.values[0] > once.values[0]  # more occurrences, more weight...
    assert twice.values[0] < 2 * once.values[0]  # ...but saturating
    long = encode_document("budget " + "filler " * 200)
    assert long.values[long.indices.index(once.indices[0])] < once.values[0]
    assert encode_query("budget budget").values == [1.0]
