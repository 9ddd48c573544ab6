"""The embedder is shared by request threads and the in-process ingestion worker."""

import threading
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from enclave.embedder import Embedder
from enclave.embedder_onnx import OnnxTransformer
from enclave.settings import EmbeddingBackend, Settings

LONG = " ".join(f"Clause {i} of the supplier agreement applies to invoices." for i in range(60))
SHORT = "vacation days"


def test_concurrent_use_gives_the_same_vectors_as_serial_use(embedder: Embedder) -> None:
    """Mixed lengths need padding; a concurrent tokenizer call without padding used to reset
    it mid-batch ("expected sequence of length 255 at dim 1 (got 49)")."""
    texts = [LONG, SHORT]
    expected = embedder.embed_documents(texts)
    failures: list[BaseException] = []
    done = threading.Event()

    def embed_loop() -> None:
        try:
            for _ in range(60):
                assert np.allclose(embedder.embed_documents(texts), expected, atol=1e-5)
        except BaseException as error:
            failures.append(error)
        finally:
            done.set()

    def count_loop() -> None:
        try:
            while not done.is_set():
                embedder.count_tokens_batch([SHORT])
                embedder.count_tokens(SHORT)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=embed_loop), threading.Thread(target=count_loop)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_vectors_keep_input_order_and_are_normalised(embedder: Embedder) -> None:
    texts = ["a", LONG, "b c", LONG[:50]]
    vectors = embedder.embed_documents(texts)
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(vector, embedder.embed_query(text), atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


# --- backends --------------------------------------------------------------------------------

PASSAGES = [
    "Employees accrue 25 vacation days per year; unused days carry over until March.",
    "The supplier agreement requires invoices to be paid within 30 days of receipt.",
    "Parental leave lasts sixteen weeks at full pay for either parent.",
    "The data centre migration moves all services to the new region in June.",
]
QUESTIONS = [
    "how many vacation days do I get",
    "when must supplier invoices be paid",
    "how long is parental leave",
    "when do services move to the new region",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder.load(Settings(_env_file=None).embedding_model_path())  # type: ignore[call-arg]


def load(backend: EmbeddingBackend, cache: Path) -> Embedder:
    path = Settings(_env_file=None).embedding_model_path()  # type: ignore[call-arg]
    return Embedder.load(path, backend=backend, onnx_cache=cache)


@pytest.mark.parametrize(("backend", "least"), [("onnx", 0.9999), ("onnx-int8", 0.97)])
def test_onnx_backends_give_torch_vectors(
    backend: EmbeddingBackend, least: float, torch_embedder: Embedder, onnx_cache: Path
) -> None:
    """The transformer really runs in ONNX Runtime (exported from the local model folder), and
    the vectors are torch's: the same up to float rounding, or up to int8 quantization."""
    embedder = load(backend, onnx_cache)
    assert isinstance(embedder.model[0].model, OnnxTransformer)
    assert embedder.backend == backend and embedder.dimension == torch_embedder.dimension
    texts = [*PASSAGES, LONG, SHORT]  # lengths from 2 to 256 tokens (truncated)
    expected = torch_embedder.embed_documents(texts)
    vectors = embedder.embed_documents(texts)
    cosines = (vectors * expected).sum(axis=1)
    assert cosines.min() > least, cosines
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Retrieval agrees: each question finds its own passage, as with torch.
    questions = np.stack([embedder.embed_query(q) for q in QUESTIONS])
    assert list((questions @ vectors[:4].T).argmax(axis=1)) == [0, 1, 2, 3]
    # A text's vector does not depend on what it is embedded with (padding, batch mates).
    assert np.allclose(embedder.embed_documents([SHORT, LONG])[0], vectors[-1], atol=1e-4)


def test_the_onnx_export_is_made_once_and_reused(onnx_cache: Path) -> None:
    load("onnx-int8", onnx_cache)
    files = sorted(onnx_cache.rglob("*.onnx"))
    assert [f.name for f in files] == ["model.onnx", "model_qint8.onnx"]  # no temporary left
    stamps = [f.stat().st_mtime_ns for f in files]
    load("onnx-int8", onnx_cache)
    assert [f.stat().st_mtime_ns for f in sorted(onnx_cache.rglob("*.onnx"))] == stamps


def test_the_backend_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_EMBEDDING_BACKEND", "onnx")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.embedding_backend == "onnx"
    embedder = Embedder.from_settings(settings)
    assert embedder.backend == "onnx"
    assert isinstance(embedder.model[0].model, OnnxTransformer)
    monkeypatch.setenv("ENCLAVE_EMBEDDING_BACKEND", "tensorrt")
    with pytest.raises(ValidationError, match="embedding_backend"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_an_onnx_backend_needs_a_cache_folder() -> None:
    path = Settings(_env_file=None).embedding_model_path()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="ONNX"):
        Embedder.load(path, backend="onnx")
