"""Citations checked sentence by sentence with the real MiniLM embedder, on passages from the
sample travel policy and office guide (the texts as ingested)."""

import pytest

from app.answering import sentences
from app.answering.citations import Kind, SupportMatcher, Verdict, classify, numbers
from enclave.embedder import Embedder
from enclave.vectorstore import Hit

HOTELS = (
    "4. HOTELS Hotel costs are covered up to a cap per night, including breakfast: - Germany: "
    "150 EUR per night - London, Paris, Zurich and Oslo: 220 EUR per night - New York and San "
    "Francisco: 280 EUR per night - All other destinations: 170 EUR per night Costs above the cap "
    "require written approval from your team lead before booking."
)
CAFETERIA = (
    'The Hamburg cafeteria, "The Galley", is on the 4th floor. It serves breakfast from 08:00 '
    "to 10:00 and hot lunch from 11:30 to 14:30, Monday to Thursday. On Fridays the kitchen is "
    "closed and the team orders pizza for everyone at 12:30."
)
APPROVAL = (
    "9. APPROVAL OF EXPENSES Expense reports are approved according to their total amount: - Up "
    "to 500 EUR: approval by your team lead. - Above 500 EUR and up to 5,000 EUR: approval by the "
    "head of your department. - Above 5,000 EUR: approval by the Chief Financial Officer (CFO). "
    "Nobody may approve their own expenses."
)
QUESTION = "Who approves an expense of 800 euros?"


def hit(n: int, title: str, text: str) -> Hit:
    return Hit(f"chunk-{n}", f"doc-{title}", n, title, f"/samples/{title}", None, "", text, 0.5)


# The approval rule in passage [3], the cafeteria in [2]: where small models go wrong.
PASSAGES = [
    hit(1, "travel-and-expenses.pdf", HOTELS),
    hit(2, "office-guide.txt", CAFETERIA),
    hit(3, "travel-and-expenses.pdf", APPROVAL),
]


@pytest.fixture(scope="module")
def matcher(embedder: Embedder) -> SupportMatcher:
    return SupportMatcher(embedder)


def test_a_wrong_marker_is_corrected_to_the_passage_with_the_rule(
    matcher: SupportMatcher,
) -> None:
    answer = "An expense of 800 euros is approved by the head of your department [2]."

    review = matcher.review(answer, QUESTION, PASSAGES)

    [sentence] = review.sentences
    assert (sentence.cited, sentence.n, sentence.verdict) == ((2,), 3, Verdict.CORRECTED)
    assert "head of your department" in sentence.evidence
    [citation] = review.citations
    assert (citation.n, citation.document_id) == (3, PASSAGES[2].document_id)
    assert "head of your department" in citation.snippet
    assert citation.sentences == (
        "An expense of 800 euros is approved by the head of your department.",
    )
    assert review.text == "An expense of 800 euros is approved by the head of your department [3]."
    assert review.unsupported == []


def test_a_right_marker_is_kept_and_a_missing_one_attached(matcher: SupportMatcher) -> None:
    answer = (
        "Expenses above 5,000 EUR are approved by the CFO [3]. Lunch is served from 11:30 to 14:30."
    )

    review = matcher.review(answer, QUESTION, PASSAGES)

    assert [(s.n, s.verdict) for s in review.sentences] == [
        (3, Verdict.CONFIRMED),
        (2, Verdict.ATTACHED),
    ]
    assert [c.n for c in review.citations] == [3, 2]
    assert review.text.endswith("Lunch is served from 11:30 to 14:30 [2].")


def test_invented_markers_and_unsupported_sentences_are_reported(
    matcher: SupportMatcher,
) -> None:
    answer = (
        "The cafeteria in Hamburg approves expenses of 800 euros [2]. "
        "Hotels in Germany are covered up to 90 EUR per night [7]. "
        "Zebras juggle purple umbrellas."
    )

    review = matcher.review(answer, QUESTION, PASSAGES)

    assert review.invented == [7]
    assert review.citations == []
    assert not review.supported
    # 90 EUR is in no passage: a number the passages do not state is never supported.
    assert review.unsupported == [
        "The cafeteria in Hamburg approves expenses of 800 euros.",
        "Hotels in Germany are covered up to 90 EUR per night.",
        "Zebras juggle purple umbrellas.",
    ]
    assert "[" not in review.text  # unsupported sentences carry no marker


def test_fillers_and_refusals_are_neither_cited_nor_flagged(matcher: SupportMatcher) -> None:
    review = matcher.review(
        "The answer is: [1]. I couldn't find this in the knowledge base.", QUESTION, PASSAGES
    )

    assert [s.kind for s in review.sentences] == [Kind.FILLER, Kind.DECLINED]
    assert review.declined and not review.supported
    assert review.unsupported == [] and review.citations == []


def test_copied_passage_labels_and_list_numbers_do_not_count(matcher: SupportMatcher) -> None:
    answer = "[3] (travel-and-expenses.pdf) 1. Above 5,000 EUR: approval by the CFO."

    review = matcher.review(answer, QUESTION, PASSAGES)

    assert [c.n for c in review.citations] == [3]
    assert review.text == "1. Above 5,000 EUR: approval by the CFO [3]."


def test_numbers_compare_as_values() -> None:
    assert numbers("7,000 euros, 0.30 EUR per km, lunch at 9:30") == {"7000", "0.3", "09:30"}
    assert numbers("7000 EUR and 0.3 EUR") == {"7000", "0.3"}


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("The answer is:", Kind.FILLER),
        ("Who approves an expense of 800 euros?", Kind.FILLER),  # the question repeated
        ("The head of your department.", Kind.CLAIM),
        ("The passages do not contain the answer.", Kind.DECLINED),
        ("I cannot answer this from the documents.", Kind.DECLINED),
        ("Nobody may approve their own expenses.", Kind.CLAIM),
    ],
)
def test_sentences_are_classified(sentence: str, kind: Kind) -> None:
    assert classify(sentence, QUESTION) == kind


def test_sentences_split_at_ends_lines_and_inline_bullets() -> None:
    assert sentences.split(APPROVAL) == [
        "9. APPROVAL OF EXPENSES Expense reports are approved according to their total amount:",
        "- Up to 500 EUR: approval by your team lead.",
        "- Above 500 EUR and up to 5,000 EUR: approval by the head of your department.",
        "- Above 5,000 EUR: approval by the Chief Financial Officer (CFO).",
        "Nobody may approve their own expenses.",
    ]
    assert sentences.split("See e.g. the policy. Done!\nNext line") == [
        "See e.g. the policy.",
        "Done!",
        "Next line",
    ]
