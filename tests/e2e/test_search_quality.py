"""Retrieval over the sample documents ranks the right document first."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.answering.retrieval import Retriever
from enclave.embedder import Embedder
from enclave.vectorstore import open_store
from tests.conftest import SAMPLES, index_folder, make_settings
from tests.support.sample_questions import SAMPLE_QUESTIONS


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Retriever]:
    root = tmp_path_factory.mktemp("quality")
    shutil.copytree(SAMPLES, root / "samples", ignore=shutil.ignore_patterns("*.py"))
    settings = make_settings(root / "var")
    index_folder(settings, embedder, root / "samples")
    store = open_store(settings)
    yield Retriever(embedder, store)
    store.close()


@pytest.mark.parametrize(("question", "file_name", "page"), SAMPLE_QUESTIONS)
def test_right_document_ranks_first(
    retriever: Retriever, question: str, file_name: str, page: int | None
) -> None:
    top = retriever.search(question, k=3)
    assert Path(top[0].source).name == file_name, [(h.title, h.score) for h in top]
    if page is not None:
        assert page in {h.page for h in top if Path(h.source).name == file_name}
