"""Request and response shapes of the OpenAI-compatible API (/v1), as msgspec structs.

Field names and nesting follow OpenAI's chat completions, embeddings and models APIs, so the
official clients parse them; Enclave's additions (`citations`, `abstained`, `k`) are extra
fields those clients keep in `model_extra`. Unknown request fields are accepted and ignored,
as clients send many optional parameters (`user`, `seed`, `top_p`, ...)."""

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from app.schemas import CitationOut

MessageRole = Literal["system", "developer", "user", "assistant", "tool", "function"]


# --- errors --------------------------------------------------------------------------------


class ErrorDetail(msgspec.Struct):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(msgspec.Struct):
    error: ErrorDetail


# --- models --------------------------------------------------------------------------------


class ModelOut(msgspec.Struct):
    id: str
    created: int
    owned_by: str
    object: str = "model"


class ModelList(msgspec.Struct):
    data: list[ModelOut]
    object: str = "list"


# --- chat completions ----------------------------------------------------------------------


class ContentPart(msgspec.Struct):
    """One part of a message's content; only `text` parts are understood."""

    type: str
    text: str | None = None


class ChatMessage(msgspec.Struct):
    role: MessageRole
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(msgspec.Struct):
    include_usage: bool = False


class ChatCompletionRequest(msgspec.Struct):
    model: Annotated[
        str, msgspec.Meta(description="A chat model id from /v1/models, or 'enclave'.")
    ]
    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: Annotated[int, msgspec.Meta(ge=1)] | None = None
    # Accepted for compatibility; the server's ENCLAVE_LLM_MAX_TOKENS and
    # ENCLAVE_LLM_TEMPERATURE apply (see the endpoint's description).
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    # Enclave extension: passages retrieved for the answer (default ENCLAVE_ASK_TOP_K).
    k: Annotated[int, msgspec.Meta(ge=1)] | None = None


class AssistantMessage(msgspec.Struct):
    content: str
    role: str = "assistant"


class Choice(msgspec.Struct):
    index: int
    message: AssistantMessage
    finish_reason: str
    logprobs: None = None


class Usage(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(msgspec.Struct):
    id: str
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    # Enclave's additions: the passages the answer cites, and whether it declined.
    citations: list[CitationOut]
    abstained: bool
    object: str = "chat.completion"


class Delta(msgspec.Struct):
    role: str | UnsetType = UNSET
    content: str | UnsetType = UNSET


class ChunkChoice(msgspec.Struct):
    index: int
    delta: Delta
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(msgspec.Struct):
    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    object: str = "chat.completion.chunk"
    # Unset fields are left out of the JSON: usage only in the usage chunk; answer,
    # citations and abstained only in the final chunk. `answer` is the checked text that
    # replaces the streamed tokens (citation markers corrected, or the abstention).
    usage: Usage | UnsetType = UNSET
    answer: str | UnsetType = UNSET
    citations: list[CitationOut] | UnsetType = UNSET
    abstained: bool | UnsetType = UNSET


# --- embeddings ----------------------------------------------------------------------------


class EmbeddingRequest(msgspec.Struct):
    model: Annotated[str, msgspec.Meta(description="The embedding model id from /v1/models.")]
    # Typed loosely so token-id arrays reach the handler and get a clear 400, not a type error.
    input: str | list[Any]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None


class EmbeddingOut(msgspec.Struct):
    index: int
    embedding: list[float] | str
    object: str = "embedding"


class EmbeddingUsage(msgspec.Struct):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(msgspec.Struct):
    data: list[EmbeddingOut]
    model: str
    usage: EmbeddingUsage
    object: str = "list"
