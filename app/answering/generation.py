"""Generation with llama.cpp: one generation at a time per loaded model, a bounded queue.

A llama.cpp context serves one sequence at a time; running two generations on it from two
threads corrupts it, and letting every request wait forever turns a busy minute into
time-outs for everyone. So requests are admitted up to 1 running + `queue_size` waiting; the
rest are refused at once (the HTTP layer answers 503 with Retry-After), and the model runs
on its own thread so the event loop keeps serving searches while it generates.

The model itself sits behind one small interface, `ChatBackend`: `LlamaCppBackend` runs a
GGUF file in this process; a backend for an OpenAI-compatible llama.cpp server goes beside it
and is chosen in `load_generator`. `Generator` (admission, the thread, cancellation) is the
same for every backend.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, cast

from enclave.settings import Settings

if TYPE_CHECKING:
    from llama_cpp import Llama

Messages = Sequence[dict[str, str]]
_END = object()


class GeneratorBusy(Exception):
    """Every running and waiting place is taken; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the model is busy; retry after {retry_after} s")
        self.retry_after = retry_after


class Admission:
    """A place in the generation queue; release it when the request is done with the model."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._release()

    def __enter__(self) -> "Admission":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 384
    temperature: float = 0.1
    # Small quantized models loop on a sentence without it.
    repeat_penalty: float = 1.15


class ChatBackend(Protocol):
    """A chat model as the pipeline uses it. Blocking: `Generator` calls it on its thread."""

    @property
    def model_name(self) -> str: ...

    @property
    def context_size(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def chat_stream(self, messages: Messages, options: "GenerationOptions") -> Iterator[str]:
        """The answer's text, piece by piece; closing the iterator stops the generation."""
        ...

    def close(self) -> None: ...


class LlamaCppBackend:
    """A GGUF model run by llama.cpp in this process."""

    def __init__(self, llm: "Llama") -> None:
        self.llm = llm

    @classmethod
    def load(cls, model_path: Path, *, context_size: int, threads: int) -> "LlamaCppBackend":
        from llama_cpp import Llama

        # chat_format=None: llama-cpp-python uses the chat template stored in the GGUF.
        llm = Llama(
            model_path=str(model_path),
            n_ctx=context_size,
            n_threads=threads,
            verbose=False,
        )
        return cls(llm)

    @property
    def model_name(self) -> str:
        return str(self.llm.metadata.get("general.name") or Path(self.llm.model_path).stem)

    @property
    def context_size(self) -> int:
        return int(self.llm.n_ctx())

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def chat_stream(self, messages: Messages, options: "GenerationOptions") -> Iterator[str]:
        chunks: Any = self.llm.create_chat_completion(
            messages=cast(Any, list(messages)),
            stream=True,
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            repeat_penalty=options.repeat_penalty,
        )
        for chunk in chunks:
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                yield text

    def close(self) -> None:
        self.llm.close()


class Generator:
    def __init__(self, backend: ChatBackend, options: GenerationOptions, queue_size: int) -> None:
        self.backend = backend
        self.options = options
        self.capacity = 1 + queue_size
        self._admitted = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")

    @classmethod
    def load(
        cls,
        model_path: Path,
        *,
        context_size: int,
        threads: int,
        options: GenerationOptions,
        queue_size: int,
    ) -> "Generator":
        """llama.cpp in this process on a GGUF file."""
        backend = LlamaCppBackend.load(model_path, context_size=context_size, threads=threads)
        return cls(backend, options, queue_size)

    @property
    def model_name(self) -> str:
        return self.backend.model_name

    @property
    def context_size(self) -> int:
        return self.backend.context_size

    @property
    def waiting(self) -> int:
        return self._admitted

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def admit(self) -> Admission:
        with self._lock:
            if self._admitted >= self.capacity:
                # A rough wait: each admitted request holds the model for a few seconds.
                raise GeneratorBusy(retry_after=max(1, 2 * self._admitted))
            self._admitted += 1
        return Admission(self._leave)

    def _leave(self) -> None:
        with self._lock:
            self._admitted -= 1

    async def complete(self, messages: Messages) -> str:
        """The whole answer. The caller must hold an Admission."""
        parts = [token async for token in self.stream(messages)]
        return "".join(parts)

    async def stream(self, messages: Messages) -> AsyncIterator[str]:
        """Answer tokens as llama.cpp produces them. The caller must hold an Admission.

        Stopping the iteration (client gone) stops the generation at the next token."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            pieces = self.backend.chat_stream(messages, self.options)
            try:
                for text in pieces:
                    if cancelled.is_set():
                        break
                    emit(text)
            except Exception as error:
                emit(error)
            finally:
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()  # a generator stops the model's stream where it is
                emit(_END)

        future = loop.run_in_executor(self._executor, work)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            cancelled.set()
            if not future.done():
                # Wait for the thread to notice, so the next request finds the model free.
                await asyncio.shield(future)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.backend.close()


def load_generator(settings: Settings) -> Generator:
    return Generator.load(
        settings.llm_path(),
        context_size=settings.llm_context_size,
        threads=settings.llm_threads,
        options=GenerationOptions(settings.llm_max_tokens, settings.llm_temperature),
        queue_size=settings.generation_queue_size,
    )
