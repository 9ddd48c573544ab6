"""Which files belong to a source: its root walked, filtered by include/exclude globs."""

from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from enclave.db import Source
from ingest.discovery import discover


def _matches(relative: str, patterns: str | None) -> bool:
    if not patterns:
        return False
    for pattern in (p.strip() for p in patterns.split(",")):
        # "**/*.pdf" should also match "a.pdf" at the top of the folder.
        top_level = pattern.removeprefix("**/")
        if pattern and (fnmatch(relative, pattern) or fnmatch(relative, top_level)):
            return True
    return False


@dataclass
class SourceListing:
    files: list[Path]
    # Folders that could not be listed this time: their documents must not count as deleted.
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    def may_have(self, path: Path) -> bool:
        return any(path.is_relative_to(folder) for folder, _ in self.unreadable)


def source_files(source: Source) -> SourceListing:
    """The source's files today; none when its root has gone."""
    root = Path(source.root)
    found = discover([root])
    if root.is_file():
        return SourceListing(found.files, found.unreadable)
    files = []
    for path in found.files:
        relative = path.relative_to(root).as_posix()
        if source.include and source.include != "**/*" and not _matches(relative, source.include):
            continue
        if _matches(relative, source.exclude):
            continue
        files.append(path)
    return SourceListing(files, found.unreadable)
