"""The embedder is shared by request threads and the in-process ingestion worker."""

import threading

import numpy as np

from enclave.embedder import Embedder

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
