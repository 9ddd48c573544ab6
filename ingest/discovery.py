"""Find the files to ingest under the paths a user names."""

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Formats this version parses; anything else in a folder is skipped, not failed.
SUPPORTED_SUFFIXES = frozenset(
    {
        ".md", ".markdown", ".txt", ".text", ".html", ".htm", ".pdf",
        ".docx", ".pptx", ".xlsx", ".csv", ".tsv",
    }
)  # fmt: skip


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    # Folders walked in full: documents recorded under them but no longer present are removed.
    folders: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)


def is_candidate(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith((".", "~$"))


def discover(paths: Sequence[Path]) -> Discovery:
    found = Discovery()
    seen: set[Path] = set()
    for raw in paths:
        path = raw.expanduser().resolve()
        if path.is_dir():
            found.folders.append(path)
            candidates: Iterator[Path] = _walk(path)
        elif path.is_file():
            candidates = iter([path])
        else:
            found.missing.append(raw)
            continue
        for candidate in candidates:
            if candidate not in seen:
                seen.add(candidate)
                found.files.append(candidate)
    return found


def _walk(folder: Path) -> Iterator[Path]:
    # os.walk skips unreadable folders (onerror=None) and does not follow symlinked folders,
    # so a link loop cannot trap the walk.
    for directory, subdirs, names in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(directory, name)
            if is_candidate(path) and path.is_file():
                yield path
