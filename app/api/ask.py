"""POST /api/ask: a cited answer, as JSON or as server-sent events."""

import logging
from collections.abc import AsyncIterator

import msgspec
from litestar import Controller, Request, Response, post
from litestar.openapi import ResponseSpec
from litestar.response import ServerSentEvent, ServerSentEventMessage

from app.answers import AnswerEvent, AnswerService, Done, Sources, Token
from app.generation import Admission, Generator
from app.schemas import AskRequest, AskResponse, sources_out
from app.validation import check_k, clean_query
from enclave.settings import Settings

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
    )
    async def ask(
        self,
        request: Request,
        data: AskRequest,
        answers: AnswerService,
        generator: Generator,
        settings: Settings,
    ) -> Response[AskResponse] | ServerSentEvent:
        """Answer a question from the knowledge base, citing passages as [n].

        With `"stream": true` or `Accept: text/event-stream` the reply is a stream of
        server-sent events: `sources`, then `token`s, then `done` with the citations."""
        question = clean_query(data.question, settings, field="question")
        k = check_k(data.k or settings.ask_top_k, settings)
        streaming = data.stream or "text/event-stream" in request.headers.get("accept", "")
        admission = generator.admit()  # GeneratorBusy → 503 + Retry-After
        if streaming:
            return ServerSentEvent(_sse(answers.ask_stream(question, k), admission))
        with admission:
            return Response(AskResponse.from_answer(await answers.ask(question, k)))


async def _sse(
    events: AsyncIterator[AnswerEvent], admission: Admission
) -> AsyncIterator[ServerSentEventMessage]:
    with admission:
        try:
            async for event in events:
                yield _message(event)
        except Exception:
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
