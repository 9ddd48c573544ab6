"""POST /api/feedback: an employee's thumbs up or down on an answer, with the question, the
answer and its cited sources, and who gave it; GET lists them for administrators (the 'admin'
scope), leaving out feedback citing a document the administrator may not see."""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get, post
from litestar.params import Parameter

from app.library import Library
from app.security.auth import requires
from app.security.routes import audited
from app.services import Services
from app.validation import MAX_OFFSET
from enclave.access.principal import Principal
from enclave.db import Feedback
from enclave.db.feedback import FeedbackRepository

# No NUL characters: PostgreSQL cannot store them.
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=20_000, pattern=r"^[^\x00]*$")]


class CitedSource(msgspec.Struct, forbid_unknown_fields=False):
    n: Annotated[int, msgspec.Meta(ge=1)]
    document_id: Annotated[str, msgspec.Meta(max_length=64)] = ""
    title: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    source: Annotated[str, msgspec.Meta(max_length=4096)] = ""
    page: int | None = None


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True):
    question: Text
    answer: Text
    rating: Literal[1, -1]
    citations: Annotated[list[CitedSource], msgspec.Meta(max_length=50)] = []
    comment: Annotated[str, msgspec.Meta(max_length=5_000, pattern=r"^[^\x00]*$")] | None = None


class FeedbackOut(msgspec.Struct):
    id: str
    created_at: datetime
    question: str
    answer: str
    citations: list[CitedSource]
    rating: int
    comment: str | None
    author: str | None = None  # who rated it (None when access control was off)

    @classmethod
    def from_model(cls, f: Feedback) -> "FeedbackOut":
        citations = [msgspec.convert(c, CitedSource) for c in f.citations]
        return cls(
            f.id, f.created_at, f.question, f.answer, citations, f.rating, f.comment, f.author
        )


class FeedbackController(Controller):
    path = "/api/feedback"
    tags = ["feedback"]

    @post(status_code=201, sync_to_thread=True, guards=[requires("ask")], opt=audited("feedback"))
    def create(self, services: Services, principal: Principal, data: FeedbackIn) -> FeedbackOut:
        """Rate an answer: `rating` 1 (helpful) or -1 (not), with an optional comment."""
        with services.database.session() as session:
            stored = FeedbackRepository(session).add(
                data.question.strip(),
                data.answer.strip(),
                [msgspec.to_builtins(c) for c in data.citations],
                data.rating,
                (data.comment or "").strip() or None,
            )
            stored.author = principal.name if principal.kind != "anonymous" else None
            return FeedbackOut.from_model(stored)

    @get(sync_to_thread=True, guards=[requires("admin")])
    def list_feedback(
        self,
        services: Services,
        principal: Principal,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> list[FeedbackOut]:
        """The newest feedback first."""
        with services.database.session() as session:
            found = FeedbackRepository(session).recent(limit, offset)
        return [
            FeedbackOut.from_model(f) for f in visible_feedback(found, services.library, principal)
        ]


def visible_feedback(
    entries: Sequence[Feedback], library: Library, principal: Principal
) -> list[Feedback]:
    """Feedback whose cited documents the caller may all see (the question and answer may
    quote them)."""
    if principal.groups is None:
        return list(entries)
    cited = [c.get("document_id", "") for f in entries for c in f.citations]
    visible = library.visible_ids([d for d in cited if d], principal.groups)
    return [f for f in entries if all(c.get("document_id") in visible for c in f.citations)]
