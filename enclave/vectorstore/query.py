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
