"""POST /api/ask: a cited answer, as JSON or as server-sent events."""

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.openapi import ResponseSpec
from litestar.response import ServerSentEvent, ServerSentEventMessage

from app.answering.answers import AnswerEvent, AnswerService, Done, Sources, Token
from app.answering.conversation import Turn
from app.answering.generation import Admission, Generator
from app.schemas import AskRequest, AskResponse, StreamableOperation, sources_out
from app.security.audit import generation_settings, note, note_answer, record_start
from app.security.auth import requires
from app.security.routes import audited
from app.validation import check_history, check_k, clean_query
from enclave.access.principal import Principal
from enclave.settings import Settings
from enclave.vectorstore import SearchFilter, SearchMode

log = logging.getLogger(__name__)


class AskController(Controller):
    path = "/api/ask"
    tags = ["ask"]

    # Annotated as Response subclasses so each reply keeps its own media type: with
    # `AskResponse | ServerSentEvent` Litestar fixes the route's type to JSON and the event
    # stream goes out as application/json. `responses` keeps AskResponse in the schema.
    @post(
        status_code=200,
        responses={200: ResponseSpec(AskResponse, description="The answer, or its event stream.")},
        guards=[requires("ask")],
        operation_class=StreamableOperation,
        opt=audited("ask"),
    )
    async def ask(
        self,
        request: Request,
        data: AskRequest,
        answers: AnswerService,
        generator: Generator,
        settings: Settings,
        principal: Principal,
    ) -> Response[AskResponse] | ServerSentEvent:
        """Answer a question from the knowledge base, citing passages as [n].

        `history` carries the conversation's earlier turns: a follow-up ("Who approves
        it?") is condensed with them into the standalone `search_query` the reply reports.
        Every answer sentence is checked against the passages: citations name the passages
        that support a sentence, `unsupported` lists those none supports, and when nothing
        relevant was found (or nothing the model wrote is supported) the answer says so and
        `sources` lists the closest passages.

        With `"stream": true` or `Accept: text/event-stream` the reply is a stream of
        server-sent events: `sources`, then `token`s, then `done` with the final answer
        (which replaces the streamed text), its citations and timing."""
        question = clean_query(data.question, settings, field="question")
        k = check_k(data.k or settings.ask_top_k, settings)
        options = AskOptions(
            history=check_history(data.turns(), settings),
            mode=data.mode or SearchMode(settings.search_mode),
            # The caller's groups apply inside the query, follow-ups included.
            filters=principal.restrict(data.filters.to_search_filter() if data.filters else None),
        )
        note(request, query=question, **generation_settings(settings, k, options.mode.value))
        streaming = data.stream or "text/event-stream" in request.headers.get("accept", "")
        # Audited before the model runs: a crash while generating leaves the question on
        # record (as `incomplete`). Before the admission, which nothing would give back if
        # this await were cancelled.
        await record_start(request)
        admission = generator.admit()  # GeneratorBusy → 503 + Retry-After
        if streaming:
            return ServerSentEvent(
                _sse(answers.ask_stream(question, k, **options.as_kwargs()), admission, request)
            )
        with admission:
            answer = await answers.ask(question, k, **options.as_kwargs())
            note_answer(request, answer)
            return Response(AskResponse.from_answer(answer))


@dataclass(frozen=True)
class AskOptions:
    history: list[Turn]
    mode: SearchMode
    filters: SearchFilter | None

    def as_kwargs(self) -> dict[str, Any]:
        return {"history": self.history, "mode": self.mode, "filters": self.filters}


async def _sse(
    events: AsyncIterator[AnswerEvent], admission: Admission, request: Request
) -> AsyncIterator[ServerSentEventMessage]:
    with admission:
        try:
            async for event in events:
                if isinstance(event, Done):  # recorded when the stream ends
                    note_answer(request, event.answer)
                yield _message(event)
        except Exception:
            note(request, failed=True)
            log.exception("answer stream failed")
            yield ServerSentEventMessage(
                event="error", data=_json({"detail": "The answer could not be completed."})
            )


def _message(event: AnswerEvent) -> ServerSentEventMessage:
    match event:
        case Sources(passages):
            return ServerSentEventMessage(event="sources", data=_json(sources_out(passages)))
        case Token(text):
            return ServerSentEventMessage(event="token", data=_json({"text": text}))
        case Done(answer):
            return ServerSentEventMessage(event="done", data=_json(AskResponse.from_answer(answer)))
    raise TypeError(f"unknown event {event!r}")


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()
