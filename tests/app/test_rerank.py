"""The optional CrossEncoder reranker, on real parts: a CrossEncoder built from the local
MiniLM weights (its scoring head is untrained, so the test checks that Enclave orders by the
cross-encoder's own scores, not that the order is good), the Edge store and the embedder.
No reranker model ships offline, so its quality cannot be measured here."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.answering.rerank import Reranker
from app.answering.retrieval import Retriever
from enclave.embedder import Embedder
from enclave.settings import ConfigurationError
from enclave.vectorstore import ChunkRecord, SearchMode, VectorStore, open_store
from tests.conftest import make_settings

TEXTS = [
    "Expenses above 500 euros need approval by the head of department.",
    "The cafeteria serves lunch from noon until two.",
    "Travel is booked through the company portal.",
    "Receipts are submitted within 30 days of the trip.",
    "Guest wifi is called NWA-Guest.",
]


@pytest.fixture(scope="module")
def cross_encoder_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sentence_transformers import CrossEncoder

    from enclave.model_files import default_embedding_model

    source = default_embedding_model()
    assert source is not None
    model = CrossEncoder(str(source), num_labels=1, device="cpu", local_files_only=True)
    target = tmp_path_factory.mktemp("reranker") / "cross-encoder"
    model.save(str(target))
    return target


@pytest.fixture
def store(tmp_path: Path, embedder: Embedder) -> Iterator[VectorStore]:
    vector_store = open_store(make_settings(tmp_path / "var"))
    vector_store.ensure_collection(embedder.dimension)
    records = [
        ChunkRecord(f"doc-{i}", 0, text, f"Doc {i}", "set", None, "", "txt")
        for i, text in enumerate(TEXTS)
    ]
    vector_store.upsert(records, embedder.embed_documents(TEXTS))
    yield vector_store
    vector_store.close()


def test_hits_follow_the_cross_encoder_scores(
    tmp_path: Path, cross_encoder_path: Path, embedder: Embedder, store: VectorStore
) -> None:
    settings = make_settings(
        tmp_path / "var", reranker_model_path=cross_encoder_path, rerank_candidates=5
    )
    reranker = Reranker.from_settings(settings)
    assert reranker is not None
    query = "Who approves a large expense?"
    hits = Retriever(embedder, store, SearchMode.HYBRID, reranker).search(query, 3)
    expected = reranker.model.predict([(query, text) for text in TEXTS])
    best = sorted(range(len(TEXTS)), key=lambda i: -float(expected[i]))[:3]
    assert [h.text for h in hits] == [TEXTS[i] for i in best]
    assert [h.score for h in hits] == pytest.approx([float(expected[i]) for i in best], abs=1e-4)
    # The cosine is kept for thresholds.
    cosines = embedder.embed_documents([h.text for h in hits]) @ embedder.embed_query(query)
    assert [h.relevance for h in hits] == pytest.approx(cosines.tolist(), abs=1e-3)


def test_reranking_is_off_by_default_and_a_missing_model_is_named(tmp_path: Path) -> None:
    assert Reranker.from_settings(make_settings(tmp_path / "var")) is None
    missing = make_settings(tmp_path / "var", reranker_model_path=tmp_path / "nope")
    with pytest.raises(ConfigurationError, match="ENCLAVE_RERANKER_MODEL_PATH"):
        Reranker.from_settings(missing)
