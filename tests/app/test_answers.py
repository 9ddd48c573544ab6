"""Context assembly and follow-up condensing, on real parts: chunks cut by the real chunker
with the MiniLM tokenizer, stored in and fetched from the embedded store, packed by the
token counts of a real llama.cpp model (the tiny GGUF's tokenizer)."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.answering import context, sentences
from app.answering.condense import condense, is_followup
from app.answering.conversation import Turn
from app.answering.generation import GenerationOptions, Generator
from app.answering.prompting import passage_budget, passage_cost
from enclave.embedder import Embedder
from enclave.vectorstore import ChunkRecord, Hit, SearchMode, VectorStore, open_store
from ingest.chunking import split_to_budget
from tests.conftest import make_settings

POLICY = " ".join(
    f"Rule {n}: expenses of category {n} are approved by approver number {n} within {n + 2} days."
    for n in range(1, 31)
)


@pytest.fixture(scope="module")
def pieces(embedder: Embedder) -> list[str]:
    """The policy as the ingest chunker cuts it: pieces repeat the previous piece's last
    sentence."""
    found = split_to_budget(POLICY, 192, embedder)
    assert len(found) >= 4
    assert sentences.split(found[1])[0] == sentences.split(found[0])[-1]  # the overlap
    return found


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, pieces: list[str]
) -> Iterator[VectorStore]:
    settings = make_settings(tmp_path_factory.mktemp("context") / "var")
    vector_store = open_store(settings)
    vector_store.ensure_collection(embedder.dimension)
    chunks = [
        ChunkRecord("policy", n, text, "Expense policy", "/docs/policy.txt", None, "", "txt")
        for n, text in enumerate(pieces)
    ]
    vector_store.upsert(chunks, embedder.embed_documents(pieces))
    yield vector_store
    vector_store.close()


@pytest.fixture(scope="module")
def generator(tiny_gguf: Path) -> Iterator[Generator]:
    loaded = Generator.load(
        tiny_gguf, context_size=512, threads=1, options=GenerationOptions(), queue_size=0
    )
    yield loaded
    loaded.close()


def _hit(store: VectorStore, embedder: Embedder, query: str) -> Hit:
    return store.search(embedder.embed_query(query), 1, text=query, mode=SearchMode.HYBRID)[0]


def _rules(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"Rule (\d+):", text)]


# --- merge: dedupe, join, widen ------------------------------------------------------------


def test_joined_chunks_hold_every_sentence_once(pieces: list[str]) -> None:
    joined = context.join_texts(pieces)

    assert _rules(joined) == list(range(1, 31))


def test_a_hit_widened_with_its_neighbours_reads_on_without_repeats(
    store: VectorStore, embedder: Embedder, pieces: list[str]
) -> None:
    middle = _hit(store, embedder, "expenses of category 17 approver number 17")
    assert 0 < middle.ordinal < len(pieces) - 1

    [passage] = context.merge([middle], store.fetch, neighbours=1)

    assert passage.ordinals == (middle.ordinal - 1, middle.ordinal, middle.ordinal + 1)
    rules = _rules(passage.text)
    assert rules == list(range(rules[0], rules[-1] + 1))  # consecutive: nothing twice
    assert set(_rules(middle.text)) < set(rules)
    assert passage.hit.chunk_id == middle.chunk_id  # cited as the hit that was found


def test_adjacent_and_repeated_hits_become_one_passage(
    store: VectorStore, embedder: Embedder, pieces: list[str]
) -> None:
    first = store.fetch("policy", [0, 1])
    copy = Hit.from_payload("elsewhere", {"document_id": "copy", "text": first[0].text}, 0.1)
    other = Hit.from_payload("other", {"document_id": "other", "text": "Parking is free."}, 0.1)

    passages = context.merge([first[1], first[0], copy, other])

    # The copy (same text, another document) is dropped; chunks 0 and 1 join at 1's rank.
    assert [p.hit.document_id for p in passages] == ["policy", "other"]
    assert passages[0].ordinals == (0, 1)
    assert _rules(passages[0].text) == sorted(set(_rules(pieces[0] + pieces[1])))


# --- focus and pack ------------------------------------------------------------------------


def test_focus_keeps_the_sentences_nearest_the_question_and_marks_the_cuts(
    embedder: Embedder, pieces: list[str]
) -> None:
    passage = context.Passage(
        Hit("c", "policy", 0, "Policy", "", None, "", POLICY, 1.0), (0,), POLICY
    )
    question = "Who approves expenses of category 12?"

    [focused] = context.focus(question, [passage], embedder, max_sentences=2)

    assert 12 in _rules(focused.text)
    assert focused.text.startswith(context.ELLIPSIS) and focused.text.endswith(context.ELLIPSIS)
    assert len(_rules(focused.text)) == 2
    assert focused.hit.text == POLICY  # the whole passage stays for the citation check


def test_packing_counts_model_tokens_and_cuts_only_at_sentence_ends(
    generator: Generator, pieces: list[str]
) -> None:
    passages = [
        context.Passage(Hit(f"c{n}", "policy", n, "Policy", "", None, "", t, 1.0), (n,), t)
        for n, t in enumerate(pieces)
    ]
    question = "Who approves expenses of category 3?"
    count = generator.count_tokens
    cost = passage_cost(count)
    budget = passage_budget(question, count, room=400)  # a small context: not all fit
    assert sum(cost(n, p) for n, p in enumerate(passages, start=1)) > budget

    packed = context.pack(passages, cost, budget)

    assert 1 <= len(packed) < len(passages)
    assert sum(cost(n, p) for n, p in enumerate(packed, start=1)) <= budget
    assert [p.text for p in packed[:-1]] == pieces[: len(packed) - 1]  # whole passages
    last = packed[-1].text
    # The last one is whole, or cut after a sentence and marked as cut.
    assert last == pieces[len(packed) - 1] or (
        last.endswith(f". {context.ELLIPSIS}") and pieces[len(packed) - 1].startswith(last[:-2])
    )


# --- condense ------------------------------------------------------------------------------

TRAVEL = [
    Turn("user", "What is the travel expense policy?"),
    Turn("assistant", "Expenses are reimbursed with the next salary [1]."),
]


@pytest.mark.parametrize(
    ("question", "history", "query"),
    [
        ("Who approves it?", TRAVEL, "What is the travel expense policy? Who approves it?"),
        (
            "And for 7,000 euros?",
            [Turn("user", "Who approves an expense claim of 1,200 euros?")],
            "Who approves an expense claim of 1,200 euros? And for 7,000 euros?",
        ),
        (
            "What about Berlin?",
            [Turn("user", "Is there car parking at the Hamburg office"), Turn("user", "Why?")],
            "Is there car parking at the Hamburg office? Why? What about Berlin?",
        ),
        # A new topic stands alone, and without history nothing changes.
        ("What is the wifi name for visitors?", TRAVEL, "What is the wifi name for visitors?"),
        ("Who approves it?", [], "Who approves it?"),
        ("Who approves it?", [Turn("assistant", "Hello!")], "Who approves it?"),
    ],
)
def test_follow_ups_are_condensed_with_the_earlier_question(
    question: str, history: list[Turn], query: str
) -> None:
    condensed = condense(question, history)

    assert condensed.query == query
    assert condensed.followup == (query != question)


def test_what_counts_as_a_follow_up() -> None:
    assert is_followup("Can I carry them over?")
    assert is_followup("Why?")
    assert not is_followup("How many vacation days do I get each year?")
