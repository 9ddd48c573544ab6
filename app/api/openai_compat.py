"""/v1: an OpenAI-compatible API, so internal apps can use the official OpenAI clients.

Chat completions are Enclave's cited answers: the last user message is the question, searched
in the knowledge base and answered from the passages found; earlier user and assistant
messages are the conversation. Errors have OpenAI's shape, `{"error": {"message", "type",
"param", "code"}}`, so clients raise their usual exceptions with a readable message.
"""

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.response import ServerSentEvent, ServerSentEventMessage

from app.answering.answers import (
    Abstention,
    Answer,
    AnswerEvent,
    AnswerService,
    Done,
    Sources,
    Token,
)
from app.answering.conversation import Role, Turn
from app.answering.generation import Admission, Generator, GeneratorBusy
from app.api.openai_errors import (
    OPENAI_ERRORS,
    OpenAIError,
    on_busy,
    on_http_error,
    on_openai_error,
    on_unexpected,
)
from app.openai_schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ChunkChoice,
    Delta,
    EmbeddingList,
    EmbeddingOut,
    EmbeddingRequest,
    EmbeddingUsage,
    ErrorDetail,
    ErrorResponse,
    ModelList,
    ModelOut,
    Usage,
)
from app.schemas import CitationOut, StreamableOperation
from app.security.audit import generation_settings, note, note_answer, record_start
from app.security.auth import requires
from app.security.routes import audited
from app.validation import check_k, clean_query
from enclave.access.principal import Principal
from enclave.embedder import Embedder
from enclave.settings import Settings

log = logging.getLogger(__name__)

# Accepted for the chat model whatever GGUF file is deployed, so apps need not change
# their configuration when the model does.
CHAT_ALIAS = "enclave"
OWNER = "enclave"


# --- models --------------------------------------------------------------------------------


def chat_model_id(settings: Settings) -> str:
    return settings.llm_path().stem


def embedding_model_id(settings: Settings) -> str:
    folder = settings.embedding_model_path()
    # A packaged model sits in a folder called just "model": its package names it.
    return folder.parent.name if folder.name == "model" else folder.name


def _created(path: Path) -> int:
    return int(path.stat().st_mtime)


def _models(settings: Settings) -> list[ModelOut]:
    return [
        ModelOut(chat_model_id(settings), _created(settings.llm_path()), OWNER),
        ModelOut(embedding_model_id(settings), _created(settings.embedding_model_path()), OWNER),
    ]


def _check_model(requested: str, settings: Settings, *, chat: bool) -> str:
    """The id of the model `requested` names, if it is this endpoint's kind."""
    chat_id, embedding_id = chat_model_id(settings), embedding_model_id(settings)
    wanted, other = (chat_id, embedding_id) if chat else (embedding_id, chat_id)
    if requested == wanted or (chat and requested == CHAT_ALIAS):
        return wanted
    if requested == other or (not chat and requested == CHAT_ALIAS):
        kind = "an embedding" if chat else "a chat"
        raise OpenAIError(f"'{requested}' is {kind} model; use '{wanted}' here.", param="model")
    raise OpenAIError(
        f"The model '{requested}' does not exist; this server has '{chat_id}' (chat, alias "
        f"'{CHAT_ALIAS}') and '{embedding_id}' (embeddings).",
        status=404,
        param="model",
        code="model_not_found",
    )


# --- chat messages -------------------------------------------------------------------------


def _text(message: ChatMessage, index: int) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if part.type != "text" or part.text is None:
            raise OpenAIError(
                f"messages[{index}] has a '{part.type}' content part; only text is supported.",
                param=f"messages[{index}].content",
            )
        parts.append(part.text)
    return "\n".join(parts)


def split_messages(messages: Sequence[ChatMessage], settings: Settings) -> tuple[str, list[Turn]]:
    """(the question, the earlier conversation). System and developer messages are dropped:
    Enclave's own instructions keep the model to the passages and their citations, and a
    client's prompt would neither improve the search (embedded with the question it pulls
    the passages towards the instructions) nor be allowed to loosen those rules."""
    kept: list[tuple[int, ChatMessage]] = []
    for i, message in enumerate(messages):
        if message.role in ("tool", "function"):
            raise OpenAIError(
                f"messages[{i}] has role '{message.role}'; tools are not supported.",
                param=f"messages[{i}].role",
            )
        if message.role in ("user", "assistant"):
            kept.append((i, message))
    if not kept or kept[-1][1].role != "user":
        raise OpenAIError(
            "The last message (system messages aside) must be the user's question.",
            param="messages",
        )
    last, asked = kept[-1]
    question = clean_query(_text(asked, last), settings, field=f"messages[{last}].content")
    history = []
    for i, message in kept[:-1]:
        text = _text(message, i).strip()
        if text:
            role: Role = "user" if message.role == "user" else "assistant"
            history.append(Turn(role, text))
    return question, history


# --- chat responses ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What every response and chunk of one completion shares."""

    id: str
    created: int
    model: str

    def chunk(self, delta: Delta, **extra: Any) -> ChatCompletionChunk:
        finish = extra.pop("finish_reason", None)
        return ChatCompletionChunk(
            self.id, self.created, self.model, [ChunkChoice(0, delta, finish)], **extra
        )


def _citations(answer: Answer) -> list[CitationOut]:
    return [CitationOut.from_citation(c) for c in answer.citations]


def _finish_reason(answer: Answer, generator: Generator) -> str:
    return "length" if answer.timing.tokens >= generator.options.max_tokens else "stop"


def _usage(answer: Answer, generator: Generator) -> Usage:
    """Prompt tokens as the model's tokenizer counts the search query and the passages it
    read (Enclave's fixed instructions and the chat template not included); completion
    tokens as generated. Nothing when no passage was found: the model did not run."""
    if answer.abstention is Abstention.NO_PASSAGES:
        return Usage(0, 0, 0)
    texts = [answer.search_query, *(p.text for p in answer.passages)]
    prompt = sum(generator.count_tokens(t) for t in texts)
    completion = answer.timing.tokens
    return Usage(prompt, completion, prompt + completion)


async def _stream(
    reply: Reply,
    events: AsyncIterator[AnswerEvent],
    admission: Admission,
    generator: Generator,
    include_usage: bool,
    request: Request[Any, Any, Any] | None = None,
) -> AsyncIterator[ServerSentEventMessage]:
    with admission:
        try:
            async for event in events:
                if request is not None and isinstance(event, Done):  # audited at stream end
                    note_answer(request, event.answer)
                match event:
                    case Sources():
                        yield _data(reply.chunk(Delta(role="assistant", content="")))
                    case Token(text):
                        yield _data(reply.chunk(Delta(content=text)))
                    case Done(answer):
                        yield _data(
                            reply.chunk(
                                Delta(),
                                finish_reason=_finish_reason(answer, generator),
                                answer=answer.answer,
                                citations=_citations(answer),
                                abstained=answer.abstained,
                            )
                        )
                        if include_usage:
                            usage = _usage(answer, generator)
                            yield _data(
                                ChatCompletionChunk(
                                    reply.id, reply.created, reply.model, [], usage=usage
                                )
                            )
        except Exception:
            if request is not None:
                note(request, failed=True)
            log.exception("chat completion stream failed")
            error = ErrorDetail("The answer could not be completed.", "server_error")
            yield _data(ErrorResponse(error))
            return
    yield ServerSentEventMessage(data="[DONE]")


def _data(value: object) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=msgspec.json.encode(value).decode())


MODELS_DOC = """The chat model (its GGUF file name without extension) and the embedding model.
Chat completions also accept the alias 'enclave' for the chat model; any other id
is answered 404 with code 'model_not_found'."""

CHAT_DOC = """A cited answer from the knowledge base, as OpenAI's `chat.completion`.

The last user message is the question: it is searched in the knowledge base (a
follow-up is first made standalone with the earlier user and assistant messages,
the conversation) and answered from the passages found. System and developer
messages are ignored: Enclave's own instructions apply. `model`: the chat model's id
from /v1/models, or the alias 'enclave'; any other id is answered 404. Extra fields:
`citations` (the passages the answer cites: n, document_id, title, source, page,
snippet, sentences) and `abstained` (the knowledge base did not answer it). `k`
(an extension) sets how many passages are retrieved.

With `"stream": true` the reply is server-sent `chat.completion.chunk`s: the model's
tokens, then a final chunk with `finish_reason` and the extra fields `answer` (the
checked text, which replaces the streamed one: citation markers corrected, or the
abstention when no passage supports it), `citations` and `abstained`; then a usage
chunk if `stream_options.include_usage`; then `data: [DONE]`. `max_tokens` and
`temperature` are accepted, but the server's ENCLAVE_LLM_MAX_TOKENS and
ENCLAVE_LLM_TEMPERATURE apply; `n` must be 1."""

EMBEDDINGS_DOC = """Normalised embeddings of text inputs (a string or a list of strings) with the
model that indexes the knowledge base. `encoding_format`: 'float' or 'base64'
(little-endian float32, what the OpenAI clients request by default). Token-id arrays,
empty strings, more than ENCLAVE_EMBEDDINGS_MAX_INPUTS inputs and inputs longer than
the model reads are refused with 400."""


# --- the controller ------------------------------------------------------------------------


class OpenAIController(Controller):
    path = "/v1"
    tags = ["openai"]
    exception_handlers = {
        OpenAIError: on_openai_error,
        HTTPException: on_http_error,
        GeneratorBusy: on_busy,
        Exception: on_unexpected,
    }

    @get("/models", description=MODELS_DOC)
    async def list_models(self, settings: Settings) -> ModelList:
        """The models this server runs."""
        return ModelList(_models(settings))

    @get("/models/{model_id:str}", responses=OPENAI_ERRORS)
    async def get_model(self, settings: Settings, model_id: str) -> ModelOut:
        """One model of /v1/models."""
        chat, embedding = _models(settings)
        if model_id == embedding.id:
            return embedding
        _check_model(model_id, settings, chat=True)  # 404 unless the chat model or its alias
        return chat

    @post(
        "/chat/completions",
        status_code=200,
        description=CHAT_DOC,
        responses={
            200: ResponseSpec(ChatCompletion, description="The answer, or its chunks."),
            **OPENAI_ERRORS,
        },
        guards=[requires("ask")],
        operation_class=StreamableOperation,
        opt=audited("ask"),
    )
    async def chat_completions(
        self,
        request: Request[Any, Any, Any],
        data: ChatCompletionRequest,
        answers: AnswerService,
        generator: Generator,
        settings: Settings,
        principal: Principal,
    ) -> Response[ChatCompletion] | ServerSentEvent:
        """A cited answer, as OpenAI's chat completion or its chunks."""
        model = _check_model(data.model, settings, chat=True)
        if data.n not in (None, 1):
            raise OpenAIError("'n' must be 1: Enclave writes one answer per request.", param="n")
        question, history = split_messages(data.messages, settings)
        k = check_k(data.k or settings.ask_top_k, settings)
        reply = Reply(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model)
        filters = principal.restrict(None)  # the caller's groups, inside the query
        note(request, query=question, **generation_settings(settings, k, None))
        await record_start(request)  # before the model runs (and before the admission)
        admission = generator.admit()  # GeneratorBusy → 503 + Retry-After
        if data.stream:
            include_usage = bool(data.stream_options and data.stream_options.include_usage)
            events = answers.ask_stream(question, k, history=history, filters=filters)
            return ServerSentEvent(
                _stream(reply, events, admission, generator, include_usage, request)
            )
        with admission:
            answer = await answers.ask(question, k, history=history, filters=filters)
        note_answer(request, answer)
        message = AssistantMessage(answer.answer)
        return Response(
            ChatCompletion(
                id=reply.id,
                created=reply.created,
                model=model,
                choices=[Choice(0, message, _finish_reason(answer, generator))],
                usage=_usage(answer, generator),
                citations=_citations(answer),
                abstained=answer.abstained,
            )
        )

    @post(
        "/embeddings",
        status_code=200,
        description=EMBEDDINGS_DOC,
        responses=OPENAI_ERRORS,
        guards=[requires("search")],
        opt=audited("embed"),
    )
    async def embeddings(
        self, data: EmbeddingRequest, embedder: Embedder, settings: Settings
    ) -> EmbeddingList:
        """Embeddings with the model that indexes the knowledge base."""
        model = _check_model(data.model, settings, chat=False)
        texts = _embedding_inputs(data.input, settings)
        if data.dimensions is not None and data.dimensions != embedder.dimension:
            raise OpenAIError(
                f"'{model}' has {embedder.dimension} dimensions; 'dimensions' cannot change it.",
                param="dimensions",
            )
        counts = await asyncio.to_thread(lambda: [embedder.count_tokens(t) for t in texts])
        for i, count in enumerate(counts):
            if count > embedder.max_tokens:
                raise OpenAIError(
                    f"input[{i}] is {count} tokens long; '{model}' reads at most "
                    f"{embedder.max_tokens}.",
                    param="input",
                )
        vectors = await asyncio.to_thread(embedder.embed_documents, texts)
        return EmbeddingList(
            data=[
                EmbeddingOut(i, _encode(vector, data.encoding_format))
                for i, vector in enumerate(vectors)
            ],
            model=model,
            usage=EmbeddingUsage(sum(counts), sum(counts)),
        )


def _embedding_inputs(value: str | list[Any], settings: Settings) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    if not texts:
        raise OpenAIError("'input' must not be an empty list.", param="input")
    if len(texts) > settings.embeddings_max_inputs:
        raise OpenAIError(
            f"'input' has {len(texts)} texts; the limit is {settings.embeddings_max_inputs}.",
            param="input",
        )
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise OpenAIError(
                f"input[{i}] is not a string: send text (token-id arrays are not supported).",
                param="input",
            )
        if not text.strip():
            raise OpenAIError(f"input[{i}] is empty.", param="input")
    return texts


def _encode(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    values: list[float] = vector.tolist()
    return values
