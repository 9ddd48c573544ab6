"""Legacy Office formats (.doc, .ppt) through LibreOffice. DOCX, PPTX and the spreadsheets are
read by unstructured directly."""

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.parsers.common import ParseError, _partition

if TYPE_CHECKING:
    from unstructured.documents.elements import Element
    from unstructured.file_utils.model import FileType

# LibreOffice converts .doc/.ppt; the pool's per-file timeout is the outer bound, this one
# stops a stuck soffice even when parse_file runs without the pool.
SOFFICE_TIMEOUT_S = 300


def _partition_via_soffice(path: Path, kind: "FileType") -> list["Element"]:
    """.doc/.ppt: LibreOffice converts to DOCX/PPTX, which unstructured then reads.

    Converted here rather than by unstructured so that each conversion gets its own
    LibreOffice profile: two soffice processes sharing a profile (parallel workers) make the
    second one fail or wait.
    """
    soffice = shutil.which("soffice")
    if soffice is None:
        raise ParseError(
            f"{path.suffix or kind.name} needs LibreOffice: soffice is not on the PATH "
            "(install libreoffice-writer-nogui / libreoffice-impress-nogui)"
        )
    target = "docx" if kind.name == "DOC" else "pptx"
    with tempfile.TemporaryDirectory(prefix="enclave-soffice-") as work:
        converted = _soffice_convert(soffice, path, target, Path(work))
        elements = _partition(converted, metadata_filename=str(path))
    for element in elements:
        element.metadata.file_directory = str(path.parent)
        element.metadata.filename = path.name
    return elements


def _soffice_convert(soffice: str, source: Path, target: str, work: Path) -> Path:
    # The source is copied under a plain name: soffice names its output after the input,
    # and file names with spaces or dots must not change that.
    staged = work / f"source{source.suffix.lower()}"
    shutil.copyfile(source, staged)
    command = [
        soffice,
        "--headless",
        "--norestore",
        "--nolockcheck",
        f"-env:UserInstallation={(work / 'profile').as_uri()}",
        "--convert-to",
        target,
        "--outdir",
        str(work / "out"),
        str(staged),
    ]
    result = subprocess.run(command, capture_output=True, timeout=SOFFICE_TIMEOUT_S, check=False)
    converted = work / "out" / f"source.{target}"
    if not converted.is_file():
        detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        last = detail.splitlines()[-1] if detail else f"exit status {result.returncode}"
        raise ParseError(f"LibreOffice could not convert the file: {last}"[:500])
    return converted
