"""Find the files to ingest under the paths a user names."""

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Formats this version parses; anything else in a folder is skipped, not failed. The parser
# detects the real type from the content, so the suffix only decides what is picked up.
SUPPORTED_SUFFIXES = frozenset(
    {
        # text and markup
        ".md", ".markdown", ".txt", ".text", ".html", ".htm", ".rst", ".org",
        ".json", ".ndjson", ".jsonl", ".xml",
        # office documents (.doc/.ppt need LibreOffice, RTF/ODT/EPUB/RST/Org need pandoc)
        ".pdf", ".docx", ".pptx", ".xlsx", ".doc", ".ppt", ".xls", ".rtf", ".odt", ".epub",
        ".csv", ".tsv",
        # email, each attachment its own document
        ".eml", ".msg",
        # scans and photos of documents, read by OCR (tesseract)
        ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".heic",
    }
)  # fmt: skip


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    # Folders walked in full: documents recorded under them but no longer present are removed.
    folders: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)
    # Folders that could not be listed, with the reason. Their documents are not "gone":
    # a caller must not remove what it indexed from them before.
    unreadable: list[tuple[Path, str]] = field(default_factory=list)


def is_candidate(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith((".", "~$"))


def discover(paths: Sequence[Path]) -> Discovery:
    found = Discovery()
    seen: set[Path] = set()
    for raw in paths:
        try:
            path = raw.expanduser().resolve()
        except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
            found.missing.append(raw)
            continue
        if path.is_dir():
            found.folders.append(path)
            candidates: Iterator[Path] = _walk(path, found.unreadable)
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


def _walk(folder: Path, unreadable: list[tuple[Path, str]]) -> Iterator[Path]:
    # os.walk does not follow symlinked folders, so a link loop cannot trap the walk; a
    # folder it cannot list is reported through onerror and the walk goes on.
    def record(error: OSError) -> None:
        unreadable.append((Path(error.filename or folder), error.strerror or str(error)))

    for directory, subdirs, names in os.walk(folder, onerror=record):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(directory, name)
            # is_file() follows a symlink to its target and is False for a dangling or
            # looping link.
            if is_candidate(path) and path.is_file():
                yield path


def under_unreadable(path: Path, discovery: Discovery) -> bool:
    """True when `path` lies in a folder that could not be listed this time."""
    return any(path.is_relative_to(folder) for folder, _ in discovery.unreadable)
