"""The tiny GGUF fixture must be something llama-cpp-python treats as a real chat model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.tiny_gguf import CHAT_TEMPLATE, write_tiny_llama_gguf

llama_cpp = pytest.importorskip("llama_cpp")

MESSAGES: list[dict[str, str]] = [
    {"role": "system", "content": "You answer from the documents."},
    {"role": "user", "content": "What is in the document?"},
]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def llm(model_path: Path) -> Iterator[Any]:
    model = llama_cpp.Llama(model_path=str(model_path), n_ctx=512, verbose=False, seed=0)
    yield model
    model.close()


def test_file_is_small_fast_and_deterministic(tmp_path: Path) -> None:
    start = time.perf_counter()
    first = write_tiny_llama_gguf(tmp_path / "a.gguf", seed=1)
    elapsed = time.perf_counter() - start
    same = write_tiny_llama_gguf(tmp_path / "b.gguf", seed=1)
    other = write_tiny_llama_gguf(tmp_path / "c.gguf", seed=2)

    assert first == tmp_path / "a.gguf"
    assert 50_000 < first.stat().st_size < 1_000_000
    assert elapsed < 2.0  # loose bound; it is typically milliseconds
    assert first.read_bytes() == same.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_loads_with_expected_shape(llm: Any) -> None:
    assert llm.n_ctx() == 512
    assert llm.n_embd() == 64
    assert 300 <= llm.n_vocab() <= 340
    assert llm.metadata["general.architecture"] == "llama"
    assert llm.metadata["llama.block_count"] == "2"


def test_metadata_carries_chat_template(llm: Any) -> None:
    assert llm.metadata["tokenizer.chat_template"] == CHAT_TEMPLATE
    # The GGUF's own template is used, not one of llama-cpp-python's built-in formats.
    assert llm.chat_format == "chat_template.default"


def test_chat_completion_is_well_formed(llm: Any) -> None:
    response = llm.create_chat_completion(messages=MESSAGES, max_tokens=16, seed=0)

    assert response["object"] == "chat.completion"
    (choice,) = response["choices"]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in {"stop", "length"}
    usage = response["usage"]
    assert usage["prompt_tokens"] > 0
    # Random weights may emit an end-of-generation token early, even as the first token.
    assert 0 <= usage["completion_tokens"] <= 16
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_completion_streams_chunks(llm: Any) -> None:
    chunks = list(llm.create_chat_completion(messages=MESSAGES, max_tokens=16, stream=True, seed=0))

    assert len(chunks) >= 2
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in {"stop", "length"}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert isinstance(text, str)


@pytest.mark.parametrize(
    "text",
    [
        "the document",
        "What is in it?",
        "Ünïcödé ✓ 日本語 🦙 — ñ",
        "tabs\tand\nnewlines\r\n",
        "\x00\x7f control bytes",
        "",
    ],
)
def test_tokenizer_round_trips_utf8(llm: Any, text: str) -> None:
    data = text.encode("utf-8")
    tokens = llm.tokenize(data, add_bos=False, special=False)

    assert all(0 <= t < llm.n_vocab() for t in tokens)
    assert llm.detokenize(tokens) == data


def test_unknown_characters_fall_back_to_byte_tokens(llm: Any) -> None:
    """A character outside the vocab must become one BYTE token per UTF-8 byte, not <unk>."""
    tokens = llm.tokenize("日".encode(), add_bos=False, special=False)

    assert [llm.detokenize([t]) for t in tokens] == [bytes([b]) for b in "日".encode()]


def test_word_pieces_merge(llm: Any) -> None:
    """Known words become a single piece, so the vocab is more than byte fallback."""
    assert len(llm.tokenize(b" the", add_bos=False)) == 1
