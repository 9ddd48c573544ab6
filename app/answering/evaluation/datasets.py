"""Evaluation datasets: questions, the passages that answer them, and reference answers.

Three formats are read, recognised from the file (or forced with `--format`):

- **jsonl** (Enclave's own), one JSON object per line. A line with `text` and no `question`
  is a corpus passage; every other line is a question::

      {"id": "p1", "title": "Leave policy", "text": "Employees get 25 days of paid leave."}
      {"id": "q1", "question": "How many vacation days do I get?",
       "gold_passage_ids": ["p1"], "answers": ["25 days"], "answerable": true}
      {"question": "Who was our first customer?", "answers": [], "answerable": false}

  Question fields: `question` (required); `id` (default: `q<line number>`);
  `gold_passage_ids` (ids of passage lines) and/or `gold_passages` (passage texts, or
  `{"title", "text"}` objects, added to the corpus); `answers` (reference answers, a list or
  one string); `answerable` (default: true when there is a gold passage or an answer).
  Passages without an `id` get one from a hash of their title and text.
- **clapnq**: ClapNQ (Rosenthal et al. 2024, "CLAPNQ: Cohesive Long-form Answers from
  Passages in Natural Questions for RAG systems", Apache-2.0) records
  `{"id", "input", "passages": [{"title", "text", "sentences"}], "output": [{"answer", ...}]}`;
  a question's gold passage is its own `passages[0]`, and `output[0].answer == ""` marks it
  unanswerable. A folder stands for all its `*.jsonl` files (the dev set's answerable and
  unanswerable halves); the corpus is every distinct passage.
- **squad2**: SQuAD 2.0 JSON (`{"data": [{"title", "paragraphs": [{"context", "qas"}]}]}`):
  each paragraph is a passage, the gold passage of a question is its paragraph, and
  `is_impossible` marks unanswerable questions.
"""

import enum
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


class DatasetError(ValueError):
    """The dataset cannot be read; the message says which file and line, and why."""


class DatasetFormat(enum.StrEnum):
    JSONL = "jsonl"
    CLAPNQ = "clapnq"
    SQUAD2 = "squad2"


@dataclass(frozen=True)
class EvalPassage:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    gold_passage_ids: tuple[str, ...]
    answers: tuple[str, ...]
    answerable: bool


@dataclass(frozen=True)
class EvalDataset:
    name: str
    format: DatasetFormat
    passages: tuple[EvalPassage, ...]  # the corpus, each passage once
    questions: tuple[EvalQuestion, ...]

    @property
    def answerable(self) -> list[EvalQuestion]:
        return [q for q in self.questions if q.answerable]

    @property
    def unanswerable(self) -> list[EvalQuestion]:
        return [q for q in self.questions if not q.answerable]

    def limited(self, n: int | None) -> "EvalDataset":
        """The first `n` answerable and first `n` unanswerable questions (in file order) over
        the whole corpus: fewer questions, but retrieval as hard as with all of them."""
        if n is None:
            return self
        if n < 1:
            raise DatasetError("--limit must be at least 1")
        kept: list[EvalQuestion] = []
        taken = {True: 0, False: 0}
        for question in self.questions:
            if taken[question.answerable] < n:
                taken[question.answerable] += 1
                kept.append(question)
        return replace(self, questions=tuple(kept))


def passage_id(title: str, text: str) -> str:
    """A stable id for a passage that has none: the same passage always gets the same id."""
    digest = hashlib.sha1(f"{title}\n{text}".encode(), usedforsecurity=False).hexdigest()
    return f"p-{digest[:20]}"


class _Corpus:
    """Passages in first-seen order, each id once."""

    def __init__(self) -> None:
        self.by_id: dict[str, EvalPassage] = {}

    def add(self, title: str, text: str, id_: str | None = None) -> str:
        passage = EvalPassage(id_ or passage_id(title, text), title, text)
        known = self.by_id.setdefault(passage.id, passage)
        if known != passage:
            raise DatasetError(f"two different passages share the id {passage.id!r}")
        return passage.id

    def passages(self) -> tuple[EvalPassage, ...]:
        return tuple(self.by_id.values())


# -- format detection -----------------------------------------------------------------------


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise DatasetError(f"{path} holds no *.jsonl files")
        return files
    if not path.is_file():
        raise DatasetError(f"No such file or folder: {path}")
    return [path]


def detect_format(path: Path) -> DatasetFormat:
    """Recognise the format from the data itself: a JSON document with `data` is SQuAD 2.0;
    JSON lines with `input`/`passages`/`output` are ClapNQ; with `question` or `text`, jsonl."""
    first = _files(path)[0]
    with first.open(encoding="utf-8") as handle:
        head = handle.read(1)
        while head.isspace():
            head = handle.read(1)
    if head == "{":
        try:
            document = json.loads(first.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            document = None  # several objects: JSON lines
        if isinstance(document, dict) and isinstance(document.get("data"), list):
            return DatasetFormat.SQUAD2
    record = next((r for _, r in _json_lines(first)), None)
    if record is None:
        raise DatasetError(f"{first} is empty")
    if {"input", "passages", "output"} <= record.keys():
        return DatasetFormat.CLAPNQ
    if "question" in record or "text" in record:
        return DatasetFormat.JSONL
    raise DatasetError(
        f"Cannot tell the format of {first}: expected SQuAD 2.0 JSON, ClapNQ JSON lines "
        "(input/passages/output) or Enclave JSON lines (question/text). Use --format."
    )


def load_dataset(path: Path, format: DatasetFormat | None = None) -> EvalDataset:
    """Read `path` (a file, or a folder of *.jsonl files) in `format`, detected if None."""
    format = format or detect_format(path)
    loader = {
        DatasetFormat.JSONL: load_jsonl,
        DatasetFormat.CLAPNQ: load_clapnq,
        DatasetFormat.SQUAD2: load_squad2,
    }[format]
    dataset = loader(path)
    if not dataset.questions:
        raise DatasetError(f"{path} holds no questions")
    if not dataset.passages:
        raise DatasetError(f"{path} holds no passages to search")
    return dataset


def _name(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path}:{number}: not JSON ({error.msg})") from error
            if not isinstance(record, dict):
                raise DatasetError(f"{path}:{number}: expected a JSON object")
            yield number, record


def _strings(value: Any, where: str, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise DatasetError(f"{where}: '{field}' must be a string or a list of strings")


# -- loaders --------------------------------------------------------------------------------


def load_clapnq(path: Path) -> EvalDataset:
    corpus = _Corpus()
    questions: list[EvalQuestion] = []
    for file in _files(path):
        for number, record in _json_lines(file):
            where = f"{file}:{number}"
            try:
                gold = record["passages"][0]
                answers = [str(o.get("answer", "")) for o in record["output"]]
                question = str(record["input"])
                gold_id = corpus.add(str(gold.get("title", "")), str(gold["text"]))
            except (KeyError, IndexError, TypeError, AttributeError) as error:
                raise DatasetError(f"{where}: not a ClapNQ record ({error!r})") from error
            answerable = bool(answers) and answers[0] != ""
            questions.append(
                EvalQuestion(
                    id=str(record.get("id", f"{file.stem}:{number}")),
                    question=question,
                    gold_passage_ids=(gold_id,),
                    answers=tuple(a for a in answers if a) if answerable else (),
                    answerable=answerable,
                )
            )
    return EvalDataset(_name(path), DatasetFormat.CLAPNQ, corpus.passages(), tuple(questions))


def load_squad2(path: Path) -> EvalDataset:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: not a JSON file ({error})") from error
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise DatasetError(f"{path}: expected SQuAD 2.0 JSON with a 'data' list")
    corpus = _Corpus()
    questions: list[EvalQuestion] = []
    try:
        for article in document["data"]:
            title = str(article.get("title", ""))
            for paragraph in article["paragraphs"]:
                gold_id = corpus.add(title, str(paragraph["context"]))
                for qa in paragraph["qas"]:
                    impossible = bool(qa.get("is_impossible", False))
                    answers = [] if impossible else [str(a["text"]) for a in qa.get("answers", [])]
                    questions.append(
                        EvalQuestion(
                            id=str(qa["id"]),
                            question=str(qa["question"]),
                            gold_passage_ids=(gold_id,),
                            answers=tuple(dict.fromkeys(answers)),  # repeated by annotators
                            answerable=not impossible,
                        )
                    )
    except (KeyError, TypeError, AttributeError) as error:
        raise DatasetError(f"{path}: not SQuAD 2.0 ({error!r} missing or malformed)") from error
    return EvalDataset(_name(path), DatasetFormat.SQUAD2, corpus.passages(), tuple(questions))


def load_jsonl(path: Path) -> EvalDataset:
    corpus = _Corpus()
    pending: list[tuple[str, dict[str, Any], str]] = []  # questions wait for later passages
    for file in _files(path):
        for number, record in _json_lines(file):
            where = f"{file}:{number}"
            if "question" in record:
                pending.append((where, record, f"q{len(pending) + 1}"))
            elif "text" in record:
                corpus.add(str(record.get("title", "")), str(record["text"]), _id(record))
            else:
                raise DatasetError(f"{where}: a line needs 'question' or a passage 'text'")
    questions = [_jsonl_question(where, r, default_id, corpus) for where, r, default_id in pending]
    return EvalDataset(_name(path), DatasetFormat.JSONL, corpus.passages(), tuple(questions))


def _id(record: dict[str, Any]) -> str | None:
    value = record.get("id")
    return None if value is None or value == "" else str(value)


def _jsonl_question(
    where: str, record: dict[str, Any], default_id: str, corpus: _Corpus
) -> EvalQuestion:
    gold = list(_strings(record.get("gold_passage_ids"), where, "gold_passage_ids"))
    unknown = [g for g in gold if g not in corpus.by_id]
    if unknown:
        raise DatasetError(f"{where}: no passage line has the id(s) {', '.join(unknown)}")
    for passage in _as_list(record.get("gold_passages")):
        if isinstance(passage, str):
            gold.append(corpus.add("", passage))
        elif isinstance(passage, dict) and isinstance(passage.get("text"), str):
            gold.append(corpus.add(str(passage.get("title", "")), passage["text"], _id(passage)))
        else:
            raise DatasetError(f"{where}: 'gold_passages' holds texts or {{title, text}} objects")
    answers = _strings(record.get("answers", record.get("answer")), where, "answers")
    answerable = record.get("answerable", bool(gold or answers))
    if not isinstance(answerable, bool):
        raise DatasetError(f"{where}: 'answerable' must be true or false")
    question = record["question"]
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: 'question' must be a non-empty string")
    return EvalQuestion(
        id=_id(record) or default_id,
        question=question,
        gold_passage_ids=tuple(dict.fromkeys(gold)),
        answers=tuple(a for a in answers if a),
        answerable=answerable,
    )


def _as_list(value: Any) -> Iterable[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def describe(dataset: EvalDataset) -> str:
    answerable = len(dataset.answerable)
    return (
        f"{dataset.name} ({dataset.format.value}): {len(dataset.questions)} questions "
        f"({answerable} answerable, {len(dataset.questions) - answerable} unanswerable), "
        f"{len(dataset.passages)} passages"
    )
