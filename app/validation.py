"""Checks on user text and limits that depend on settings (static ones live in the schemas)."""

from litestar.exceptions import ValidationException

from enclave.settings import Settings


def clean_query(text: str, settings: Settings, field: str = "q") -> str:
    text = text.strip()
    if not text:
        raise ValidationException(f"'{field}' must not be empty.")
    if len(text) > settings.max_query_chars:
        raise ValidationException(
            f"'{field}' is {len(text)} characters long; the limit is {settings.max_query_chars}."
        )
    return text


def check_k(k: int, settings: Settings) -> int:
    if not 1 <= k <= settings.max_top_k:
        raise ValidationException(f"'k' must be between 1 and {settings.max_top_k}.")
    return k
