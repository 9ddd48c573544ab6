"""Answerability: do the retrieved passages hold the answer, or only its topic?

A question whose answer is not in the knowledge base still finds passages on its topic: the
top hit's relevance alone tells the two apart only so well. The answer usually sits in one
sentence, so a second signal is how close the question comes to the single nearest sentence
of the passages. The two are mixed linearly and the answer service abstains below a
threshold, before the model runs (which also saves the generation).

The weights and the threshold were fitted (logistic regression, then the cut with the best
abstain F1) on one half of the ClapNQ dev set (`/work/shared/eval/clapnq-dev`, 300
answerable + 300 unanswerable questions, halves stratified with seed 0), with hybrid search,
k=3 and all-MiniLM-L6-v2. On the other, held-out half: abstain precision/recall/F1
0.828/0.800/0.814, with 83% of the answerable questions still answered; the top hit's
relevance alone reached F1 0.783 there (over 20 random halvings: 0.805 ± 0.014 against
0.784 ± 0.011). Word overlap with the question, answer-type checks (a year for "when") and
the sentence-minus-passage margin added nothing measurable on held-out halves.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.answering import sentences
from app.answering.context import Passage
from enclave.embedder import Embedder
from enclave.vectorstore import Hit

# score = TOP_WEIGHT · top hit's relevance + SENTENCE_WEIGHT · nearest sentence's cosine.
TOP_WEIGHT = 0.55
SENTENCE_WEIGHT = 0.45
# Below this the passages are taken to be about the topic without holding the answer. Like
# ENCLAVE_MIN_RELEVANCE, it depends on the corpus: on the shipped samples, whose chunks are
# longer and hold several topics, 8 of the 20 answerable sample questions score below it
# (0.31-0.58), so the answer service leaves the check off unless it is given a threshold.
MIN_SCORE = 0.59


@dataclass(frozen=True)
class Answerability:
    top_relevance: float  # the best hit's cosine relevance to the question
    sentence_relevance: float  # the cosine of the question and its nearest passage sentence
    sentence: str  # that sentence

    @property
    def score(self) -> float:
        return TOP_WEIGHT * self.top_relevance + SENTENCE_WEIGHT * self.sentence_relevance

    def answerable(self, min_score: float = MIN_SCORE) -> bool:
        return self.score >= min_score


def assess(question: str, passages: Sequence[Passage | Hit], embedder: Embedder) -> Answerability:
    """How likely the passages hold the answer to `question` (blocking: one embedding call).

    The passages' whole text is read (a `Passage`'s widened hit, not its focused excerpt),
    as the constants were fitted on the chunks the search returned."""
    hits = [p.hit if isinstance(p, Passage) else p for p in passages]
    if not hits:
        return Answerability(0.0, 0.0, "")
    pieces = [s for hit in hits for s in (sentences.split(hit.text) or [hit.text])]
    vectors = embedder.embed_documents([question, *pieces])
    similarity = vectors[1:] @ vectors[0]
    best = int(similarity.argmax())
    return Answerability(
        top_relevance=max(hit.relevance for hit in hits),
        sentence_relevance=float(similarity[best]),
        sentence=pieces[best],
    )
