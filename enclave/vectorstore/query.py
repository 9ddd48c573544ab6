"""What a search asks the store for: which vectors to use, and which chunks may match."""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


class SearchMode(enum.StrEnum):
    """`dense`: embedding similarity; `sparse`: BM25 over words; `hybrid`: both, fused by
    reciprocal rank fusion in one query."""

    DENSE = "dense"
    SPARSE = "sparse"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class AnyOf:
    """The payload field holds (one of) these values."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Between:
    """The numeric payload field lies in [gte, lte] (a None bound is open)."""

    key: str
    gte: float | None = None
    lte: float | None = None


Condition = AnyOf | Between


@dataclass(frozen=True)
class SearchFilter:
    """Conditions applied inside the vector query (payload indexes), never after it.

    Empty sequences and None mean "no condition". `groups=None` means no access restriction
    (trusted internal callers); a sequence means the chunk must carry at least one of them.
    """

    sources: Sequence[str] = ()
    document_ids: Sequence[str] = ()
    file_types: Sequence[str] = ()
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    groups: Sequence[str] | None = None

    @property
    def is_empty(self) -> bool:
        return not (
            self.sources
            or self.document_ids
            or self.file_types
            or self.modified_after
            or self.modified_before
            or self.groups is not None
        )

    def conditions(self, from_ordinal: int | None = None) -> list[Condition]:
        """What this filter requires, one condition per field; each backend translates
        these into its own classes. `from_ordinal` keeps chunks numbered that or above."""
        found: list[Condition] = []
        for key, values in (
            ("document_id", self.document_ids),
            ("source_name", self.sources),
            ("file_type", self.file_types),
        ):
            if values:
                found.append(AnyOf(key, tuple(values)))
        if self.groups is not None:
            # No groups at all must match nothing, not everything.
            found.append(AnyOf("groups", tuple(self.groups) or ("\x00none",)))
        if self.modified_after or self.modified_before:
            found.append(
                Between(
                    "modified",
                    self.modified_after.timestamp() if self.modified_after else None,
                    self.modified_before.timestamp() if self.modified_before else None,
                )
            )
        if from_ordinal is not None:
            found.append(Between("ordinal", gte=float(from_ordinal)))
        return found
