"""Every supported format, parsed from a real file the test writes, and every kind of bad input
failing alone with its reason.

Real parts throughout: unstructured, pandoc (pypandoc-binary), tesseract, LibreOffice, the
MiniLM tokenizer for chunking. A test that needs a system tool skips, saying which, when the
tool is missing; the reason a user then gets is tested with the tool taken off the PATH.
"""

import email.policy
import os
import random
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from enclave.embedder import Embedder
from ingest import parsers
from ingest.chunking import chunk_document
from ingest.discovery import SUPPORTED_SUFFIXES, discover
from ingest.parse_pool import ParsePool
from ingest.parsers import NO_TEXT_LAYER, ParsedPart, ParseError, parse_file
from tests.conftest import SHARED
from tests.support.docs_factory import write_corrupt_pdf, write_docx, write_text_pdf

MIB = 1024 * 1024
CORPUS = SHARED / "corpus" / "example-docs"

needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice (soffice) is not installed: legacy .doc/.ppt/.xls are not tested",
)
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="tesseract-ocr is not installed: OCR of scans and images is not tested",
)


def _pandoc_available() -> bool:
    try:
        import pypandoc

        pypandoc.get_pandoc_version()
        return True
    except (ImportError, OSError):
        return False


needs_pandoc = pytest.mark.skipif(
    not _pandoc_available(),
    reason="pandoc is not installed (pypandoc-binary): RTF/ODT/EPUB/RST/Org are not tested",
)


def elements_of(path: Path, max_bytes: int = 10 * MIB) -> list:
    """The file's own elements (its first part)."""
    parts = parse_file(path, max_bytes=max_bytes)
    assert parts[0].name == "" and parts[0].error is None
    return parts[0].elements


def text_of(path: Path) -> str:
    return "\n".join(element.text for element in elements_of(path))


def reason_for(path: Path, max_bytes: int = 10 * MIB) -> str:
    with pytest.raises(ParseError) as failure:
        parse_file(path, max_bytes=max_bytes)
    return str(failure.value)


@pytest.fixture
def without_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """An empty PATH: soffice and tesseract are "not installed" (pandoc comes with
    pypandoc-binary, inside the environment, so it stays)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    parsers.tesseract_available.cache_clear()
    yield
    parsers.tesseract_available.cache_clear()


# --- office documents -----------------------------------------------------------------------


def test_docx_text_headings_and_table(tmp_path: Path) -> None:
    import docx

    path = write_docx(
        tmp_path / "handbook.docx",
        "Staff handbook",
        [("Leave", ["Staff get 25 days of paid leave a year."])],
    )
    document = docx.Document(str(path))
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Office", "Manager"), ("Oslo", "Ingrid")], strict=True):
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    document.save(str(path))

    parts = parse_file(path, max_bytes=MIB)
    assert [p.name for p in parts] == [""] and parts[0].title == "Staff handbook"
    text = "\n".join(e.text for e in parts[0].elements)
    assert "25 days of paid leave" in text
    assert "Office | Manager\nOslo | Ingrid" in text  # one line per table row


def test_pptx_slides(tmp_path: Path) -> None:
    import pptx

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Roadmap 2025"
    slide.placeholders[1].text = "The ledger importer ships in March."
    deck.save(str(tmp_path / "roadmap.pptx"))
    text = text_of(tmp_path / "roadmap.pptx")
    assert "Roadmap 2025" in text and "ledger importer ships in March" in text


def _write_xlsx(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Offices"
    for row in rows:
        sheet.append(row)
    book.save(str(path))
    return path


OFFICE_ROWS = [
    ("Office", "Manager", "Headcount"),
    ("Oslo", "Ingrid Svensson", "42"),
    ("Bergen", "Lars Holm", "17"),
    ("Lisbon", "Ana Costa", "23"),
    ("Porto", "Rui Silva", "9"),
    ("Frankfurt", "Petra Weber", "31"),
    ("Zurich", "Marc Keller", "12"),
    ("Vienna", "Eva Huber", "8"),
]


def _rows_in_one_chunk(elements: list, title: str, embedder: Embedder) -> None:
    chunks = chunk_document(elements, title, embedder, max_tokens=256)
    lines = [" | ".join(row) for row in OFFICE_ROWS]
    holding = [c for c in chunks if "Oslo | Ingrid Svensson | 42" in c.text]
    assert len(holding) == 1, [c.text for c in chunks]
    assert all(line in holding[0].text.splitlines() for line in lines), holding[0].text


def test_xlsx_table_rows_stay_together(tmp_path: Path, embedder: Embedder) -> None:
    path = _write_xlsx(tmp_path / "offices.xlsx", OFFICE_ROWS)
    elements = elements_of(path)
    assert elements[0].metadata.page_name == "Offices"
    _rows_in_one_chunk(elements, "Offices", embedder)


def test_html_table_rows_stay_together(tmp_path: Path, embedder: Embedder) -> None:
    header, *body = OFFICE_ROWS
    rows = "".join(f"<tr>{''.join(f'<td>{c}</td>' for c in r)}</tr>" for r in body)
    head = "".join(f"<th>{c}</th>" for c in header)
    (tmp_path / "offices.html").write_text(
        "<html><body><h1>Our offices</h1><p>Every office and who runs it.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></body></html>"
    )
    _rows_in_one_chunk(elements_of(tmp_path / "offices.html"), "Our offices", embedder)


def test_long_table_splits_between_rows_only(tmp_path: Path, embedder: Embedder) -> None:
    """A table longer than a chunk is split at row ends: every row whole, in one chunk."""
    lines = ["Employee,City,Hours"] + [f"Employee {i},Oslo,{i % 40}.5" for i in range(150)]
    (tmp_path / "hours.csv").write_text("\n".join(lines) + "\n")
    chunks = chunk_document(elements_of(tmp_path / "hours.csv"), "Hours", embedder, 256)
    assert len(chunks) > 1
    row = r"Employee (\d+) \| Oslo \| \d+\.5"
    seen: set[int] = set()
    for chunk in chunks:
        # Nothing but whole rows, in order (the chunker joins the rows of a split table with
        # spaces, and may repeat a short last row at the start of the next chunk).
        assert re.fullmatch(rf"(Employee \| City \| Hours\s)?({row}\s?)+", chunk.text), chunk.text
        numbers = [int(number) for number in re.findall(row, chunk.text)]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        seen.update(numbers)
    assert seen == set(range(150))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("teams.csv", "Team,Location,Cups\nBlues,STL,1\nMaple Leafs,TOR,13\n"),
        ("teams.tsv", "Team\tLocation\tCups\nBlues\tSTL\t1\nMaple Leafs\tTOR\t13\n"),
    ],
)
def test_csv_and_tsv_rows(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content)
    assert "Maple Leafs | TOR | 13" in text_of(tmp_path / name).splitlines()


def test_ragged_csv_is_read_as_rows_of_text(tmp_path: Path) -> None:
    (tmp_path / "ragged.csv").write_text("Name,City\nAlice,Oslo\nBob,Bergen,extra,cells\n")
    assert "Bob,Bergen,extra,cells" in text_of(tmp_path / "ragged.csv")


# --- text, markup and data ------------------------------------------------------------------


def test_markdown_and_plain_text(tmp_path: Path) -> None:
    (tmp_path / "policy.md").write_text("# Password policy\n\nPasswords need 14 characters.\n")
    (tmp_path / "notes.txt").write_text("Beta notes. The beta cluster runs in Frankfurt.\n")
    parts = parse_file(tmp_path / "policy.md", max_bytes=MIB)
    assert parts[0].title == "Password policy"
    assert "Passwords need 14 characters." in text_of(tmp_path / "policy.md")
    assert "beta cluster runs in Frankfurt" in text_of(tmp_path / "notes.txt")


GERMAN = "Grüße aus Zürich: das Menü kostet 5 € – „naïve“ Preise für Café und Crème brûlée."
FRENCH = "Le déjeuner à la crèche : pâtés, crêpes et œufs. Où est la gare ? Très bien."
NORWEGIAN = "Møte på kontoret i Tromsø. Ærlig talt går det bra med blåbær og smør."


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
        ("utf-16-le", b""),  # no byte-order mark
        ("cp1252", b""),
    ],
)
def test_text_encodings_are_decoded(tmp_path: Path, encoding: str, bom: bytes) -> None:
    text = f"{GERMAN}\n\n{FRENCH}\n\n{NORWEGIAN}\n"
    path = tmp_path / "greetings.txt"
    path.write_bytes(bom + text.encode(encoding))
    decoded = text_of(path)
    for sentence in (GERMAN, FRENCH, NORWEGIAN):
        assert sentence in decoded


@pytest.mark.parametrize("declared", [True, False])
def test_cp1252_html(tmp_path: Path, declared: bool) -> None:
    meta = '<meta charset="windows-1252">' if declared else ""
    page = f"<html><head>{meta}</head><body><h1>Menü</h1><p>{FRENCH}</p></body></html>"
    (tmp_path / "menu.html").write_bytes(page.encode("cp1252"))
    text = text_of(tmp_path / "menu.html")
    assert "Menü" in text and FRENCH in text


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("team.json", '{"team": "Platform", "lead": "Ingrid Svensson"}', "Ingrid Svensson"),
        (
            "events.ndjson",
            '{"event": "deploy", "service": "ledger"}\n{"event": "rollback", "service": "auth"}\n',
            "rollback",
        ),
        ("broken.json", '{"team": "Platform", "lead": "Ingrid', "Ingrid"),  # not valid JSON
        (
            "factbook.xml",
            "<?xml version='1.0'?><country><name>Norway</name><capital>Oslo</capital></country>",
            "Oslo",
        ),
    ],
)
def test_json_ndjson_and_xml_as_text(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    (tmp_path / name).write_text(content)
    assert expected in text_of(tmp_path / name)


@needs_pandoc
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("guide.rst", "Travel guide\n============\n\nTrains are preferred for short trips.\n"),
        ("guide.org", "* Travel guide\n\nTrains are preferred for short trips.\n"),
    ],
)
def test_rst_and_org(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content)
    text = text_of(tmp_path / name)
    assert "Travel guide" in text and "Trains are preferred for short trips." in text


@needs_pandoc
def test_rtf_odt_and_epub(tmp_path: Path) -> None:
    import pypandoc

    (tmp_path / "note.rtf").write_text(
        r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard Quarterly report for Oslo.\par"
        r" The caf\'e9 budget grew by 4 percent.\par}"
    )
    assert "The café budget grew by 4 percent." in text_of(tmp_path / "note.rtf")
    source = "# Travel policy\n\nTrains are preferred for trips under 500 km.\n"
    for target in ("odt", "epub"):
        path = tmp_path / f"policy.{target}"
        pypandoc.convert_text(
            source, target, format="md", outputfile=str(path), extra_args=["--metadata=title:T"]
        )
        assert "Trains are preferred for trips under 500 km." in text_of(path)


# --- PDF, scans and images ------------------------------------------------------------------


def test_text_pdf_keeps_page_numbers_without_ocr(tmp_path: Path, without_tool: None) -> None:
    """Read from the text layer ("fast"): it works with tesseract off the PATH."""
    path = write_text_pdf(
        tmp_path / "report.pdf",
        ["Revenue grew by twelve percent.", "Audit\n\nThe gamma audit is due in May."],
    )
    pages = {e.text: e.metadata.page_number for e in elements_of(path)}
    assert pages["Revenue grew by twelve percent."] == 1
    assert pages["The gamma audit is due in May."] == 2


def _write_scan(path: Path) -> Path:
    """A page image with text and no text layer; saved as PDF it is a scanned document."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1400, 400), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    draw.text((40, 60), "Invoice 4711 from Nordlicht GmbH", fill=0, font=font)
    draw.text((40, 180), "Total due: 1250 euros by March", fill=0, font=font)
    image.save(path, resolution=150)
    return path


@needs_tesseract
@pytest.mark.parametrize("name", ["scan.pdf", "scan.png", "scan.jpg", "scan.tiff"])
def test_scans_and_images_are_read_by_ocr(tmp_path: Path, name: str) -> None:
    text = text_of(_write_scan(tmp_path / name))
    assert "Invoice 4711 from Nordlicht GmbH" in text
    assert "1250 euros" in text


@pytest.mark.parametrize("name", ["scan.pdf", "scan.png"])
def test_scan_without_ocr_is_recorded_not_dropped(
    tmp_path: Path, name: str, without_tool: None
) -> None:
    assert reason_for(_write_scan(tmp_path / name)) == NO_TEXT_LAYER


# --- legacy Office formats (LibreOffice) ----------------------------------------------------


def _soffice_convert(source: Path, target: str) -> Path:
    """A real legacy file, written by LibreOffice from a modern one."""
    soffice = shutil.which("soffice")
    assert soffice
    out = source.parent / "legacy"
    profile = f"-env:UserInstallation={(source.parent / 'lo').as_uri()}"
    subprocess.run(
        [soffice, "--headless", profile, "--convert-to", target, "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return out / f"{source.stem}.{target}"


@needs_soffice
def test_doc_and_ppt(tmp_path: Path) -> None:
    import pptx

    doc = _soffice_convert(
        write_docx(tmp_path / "memo.docx", "Memo", [("Travel", ["Trains beat planes."])]), "doc"
    )
    assert "Trains beat planes." in text_of(doc)
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Quarterly review"
    slide.placeholders[1].text = "Churn fell to 2 percent."
    deck.save(str(tmp_path / "review.pptx"))
    assert "Churn fell to 2 percent." in text_of(_soffice_convert(tmp_path / "review.pptx", "ppt"))


def test_xls_needs_no_libreoffice(without_tool: None) -> None:
    """.xls is read by xlrd; no converter involved."""
    if not (CORPUS / "tests-example.xls").is_file():
        pytest.skip(f"{CORPUS} is absent: no .xls file to test with")
    text = text_of(CORPUS / "tests-example.xls")
    assert "http://www.cmu.edu/blackboard" in text


def test_doc_without_libreoffice_fails_naming_it(tmp_path: Path, without_tool: None) -> None:
    if (CORPUS / "simple.doc").is_file():
        doc = Path(shutil.copy(CORPUS / "simple.doc", tmp_path / "simple.doc"))
    else:
        pytest.skip(f"no .doc file to test with ({CORPUS} is absent)")
    assert reason_for(doc).startswith(".doc needs LibreOffice: soffice is not on the PATH")


# --- email ----------------------------------------------------------------------------------


def _email(subject: str, body: str) -> EmailMessage:
    message = EmailMessage(policy=email.policy.default)
    message["Subject"] = subject
    message["From"] = "Anna Berg <anna@example.com>"
    message["To"] = "Team <team@example.com>"
    message["Date"] = "Mon, 03 Mar 2025 09:30:00 +0100"
    message.set_content(body)
    return message


def test_eml_body_and_attachments_are_separate_parts(tmp_path: Path) -> None:
    report = write_docx(tmp_path / "src.docx", "Q3 report", [("Sales", ["Sales rose 8 percent."])])
    minutes = write_text_pdf(tmp_path / "src.pdf", ["Minutes: the board approved the budget."])
    forwarded = _email("Board minutes", "See the minutes attached.")
    forwarded.add_attachment(minutes.read_bytes(), "application", "pdf", filename="minutes.pdf")

    message = _email("Q3 numbers", "Hi team, the Q3 numbers are attached.")
    docx_type = "vnd.openxmlformats-officedocument.wordprocessingml.document"
    message.add_attachment(report.read_bytes(), "application", docx_type, filename="report.docx")
    message.add_attachment("Action items: renew the lease.", filename="notes.txt")
    message.add_attachment(random.Random(7).randbytes(2048), "application", "octet-stream",
                           filename="blob.bin")  # fmt: skip
    message.add_attachment(forwarded)
    path = tmp_path / "q3.eml"
    path.write_bytes(message.as_bytes())

    parts = {part.name: part for part in parse_file(path, max_bytes=MIB)}
    assert list(parts) == [
        "",
        "report.docx",
        "notes.txt",
        "blob.bin",
        "Board minutes.eml",
        "Board minutes.eml/minutes.pdf",
    ]
    body = "\n".join(e.text for e in parts[""].elements)
    assert parts[""].title == "Q3 numbers"
    assert "From: Anna Berg <anna@example.com>" in body
    assert "Attachments: report.docx, notes.txt, blob.bin" in body
    assert "the Q3 numbers are attached" in body
    assert "Sales rose 8 percent." in "\n".join(e.text for e in parts["report.docx"].elements)
    assert parts["notes.txt"].elements[0].text == "Action items: renew the lease."
    assert parts["blob.bin"].error == "unsupported file type: data"
    assert not parts["blob.bin"].elements
    pdf = parts["Board minutes.eml/minutes.pdf"]
    assert pdf.elements[0].text == "Minutes: the board approved the budget."
    assert pdf.elements[0].metadata.page_number == 1


def test_attachments_are_followed_three_levels_deep(tmp_path: Path) -> None:
    innermost = _email("Level 4", "The deepest message.")
    for level in (3, 2, 1):
        outer = _email(f"Level {level}", f"Message at level {level}.")
        outer.add_attachment(innermost)
        innermost = outer
    top = _email("Level 0", "The message you received.")
    top.add_attachment(innermost)
    (tmp_path / "chain.eml").write_bytes(top.as_bytes())
    parts = parse_file(tmp_path / "chain.eml", max_bytes=MIB)
    names = ["Level 1.eml", "Level 2.eml", "Level 3.eml", "Level 4.eml"]
    assert [p.name for p in parts] == ["", *("/".join(names[:n]) for n in range(1, 5))]
    assert [p.error for p in parts] == [None, None, None, None, "attachment nested too deeply"]
    assert "Message at level 3." in "\n".join(e.text for e in parts[3].elements)


def test_msg_body_and_attachment(tmp_path: Path) -> None:
    source = CORPUS / "fake-email-attachment.msg"
    if not source.is_file():
        pytest.skip(f"{CORPUS} is absent: no Outlook .msg file to test with")
    parts = parse_file(source, max_bytes=MIB)
    assert [p.name for p in parts] == ["", "fake-attachment.txt"]
    assert parts[0].title == "Fake email with attachment"
    assert "Hey this is a fake attachment!" in parts[1].elements[0].text


# --- encrypted, damaged and mislabelled files -----------------------------------------------


def test_encrypted_files_say_so(tmp_path: Path) -> None:
    import msoffcrypto.format.ooxml
    import pikepdf

    plain = write_text_pdf(tmp_path / "plain.pdf", ["Salary bands for 2025."])
    with pikepdf.open(plain) as pdf:
        pdf.save(tmp_path / "locked.pdf", encryption=pikepdf.Encryption(user="pw", owner="pw"))
        # Copy protection only (an owner password): readable without one, so it is read.
        owner_only = pikepdf.Encryption(user="", owner="pw", allow=pikepdf.Permissions())
        pdf.save(tmp_path / "protected.pdf", encryption=owner_only)
    assert reason_for(tmp_path / "locked.pdf") == "encrypted: the PDF needs a password to open"
    assert "Salary bands for 2025." in text_of(tmp_path / "protected.pdf")

    document = write_docx(tmp_path / "plain.docx", "Salaries", [("Bands", ["Band A."])])
    with document.open("rb") as source, (tmp_path / "locked.docx").open("wb") as target:
        msoffcrypto.format.ooxml.OOXMLFile(source).encrypt("pw", target)
    assert reason_for(tmp_path / "locked.docx") == "encrypted: password-protected Office document"

    message = _email("Secret", "placeholder")
    message.replace_header("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data")
    message.set_payload("MIAGCSqGSIb3DQEHA6CAMIACAQAxggHXMIIB0wIBADCBujCBrDELMAkGA1UE")
    (tmp_path / "secret.eml").write_bytes(message.as_bytes())
    assert reason_for(tmp_path / "secret.eml") == "encrypted: S/MIME-encrypted email"


def test_damaged_files_fail_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "garbage.docx").write_bytes(random.Random(1).randbytes(4096))
    assert reason_for(tmp_path / "garbage.docx") == "not a valid DOCX file: the content is data"

    whole = write_docx(tmp_path / "whole.docx", "Plan", [("Goals", ["Grow."])]).read_bytes()
    (tmp_path / "cut.docx").write_bytes(whole[: len(whole) // 2])
    assert reason_for(tmp_path / "cut.docx") == (
        "corrupt DOCX file: the ZIP container is damaged or cut off"
    )
    assert reason_for(write_corrupt_pdf(tmp_path / "broken.pdf")).startswith("corrupt PDF: ")


def test_wrong_extension_is_read_by_content(tmp_path: Path) -> None:
    pdf = write_text_pdf(tmp_path / "real.pdf", ["Page one.", "The audit is due in May."])
    (tmp_path / "report.txt").write_bytes(pdf.read_bytes())
    pages = {e.text: e.metadata.page_number for e in elements_of(tmp_path / "report.txt")}
    assert pages["The audit is due in May."] == 2

    document = write_docx(tmp_path / "real.docx", "Plan", [("Goals", ["Hire two engineers."])])
    (tmp_path / "plan.pdf").write_bytes(document.read_bytes())
    assert "Hire two engineers." in text_of(tmp_path / "plan.pdf")

    (tmp_path / "noise.txt").write_bytes(random.Random(2).randbytes(3000))
    assert reason_for(tmp_path / "noise.txt") == "not a text file: the content is data"


def test_empty_and_blank_files(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "empty.docx").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("   \n\n\t  \n")
    assert reason_for(tmp_path / "empty.txt") == "empty file"
    assert reason_for(tmp_path / "empty.docx") == "empty file"
    assert reason_for(tmp_path / "blank.txt") == "no text found in the file"


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("Lorem ipsum dolor sit amet. " * (3 * MIB // 28 + 1))
    assert reason_for(path, max_bytes=2 * MIB) == "file too large: 3 MB (limit 2 MB)"
    (tmp_path / "exact.txt").write_text("Exactly at the limit.")
    assert elements_of(tmp_path / "exact.txt", max_bytes=len("Exactly at the limit."))
    (tmp_path / "small.txt").write_text("x" * 5000)
    assert re.fullmatch(
        r"file too large: 0\.00477 MB \(limit 0\.000954 MB\)",
        reason_for(tmp_path / "small.txt", max_bytes=1000),
    )
    assert parsers.DEFAULT_MAX_BYTES == 200 * MIB


# --- discovery ------------------------------------------------------------------------------


def test_discovery_picks_up_every_supported_format(tmp_path: Path) -> None:
    formats = [
        ".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".tsv", ".html", ".htm", ".md", ".txt",
        ".eml", ".msg", ".rtf", ".odt", ".epub", ".rst", ".org", ".json", ".ndjson", ".xml",
        ".doc", ".ppt", ".xls", ".png", ".jpg", ".jpeg", ".tiff",
    ]  # fmt: skip
    assert set(formats) <= SUPPORTED_SUFFIXES
    for suffix in formats:
        (tmp_path / f"file{suffix}").write_text("x")
    (tmp_path / "song.mp3").write_text("x")
    (tmp_path / "~$lock.docx").write_text("x")
    found = discover([tmp_path])
    assert sorted(p.suffix for p in found.files) == sorted(formats)


def test_symlink_loops_do_not_stop_the_walk(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_text("a")
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)  # folder loop
    (root / "self.txt").symlink_to(root / "self.txt")  # a link to itself
    (root / "ping.md").symlink_to(root / "pong.md")
    (root / "pong.md").symlink_to(root / "ping.md")
    (root / "z.md").write_text("z")
    found = discover([root, root / "self.txt"])
    assert sorted(p.name for p in found.files) == ["a.txt", "z.md"]
    assert found.missing == [root / "self.txt"] and not found.unreadable


def test_unreadable_folder_is_reported_and_the_walk_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "secret.txt").write_text("s")
    (root / "open.txt").write_text("o")
    (root / "locked").chmod(0)
    try:
        names, unreadable = _discover_as_unprivileged(root)
    finally:
        (root / "locked").chmod(0o755)
    assert names == ["open.txt"]
    assert unreadable == [(str(root / "locked"), "Permission denied")]


def _discover_as_unprivileged(root: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """discover() as a user that permissions apply to: root reads any folder, so as root the
    walk runs in a forked child that drops to "nobody" first."""
    if os.geteuid() != 0:
        found = discover([root])
        return [p.name for p in found.files], [(str(p), r) for p, r in found.unreadable]
    import json

    for folder in [root, *root.parents]:
        if folder.stat().st_mode & 0o005 != 0o005:
            folder.chmod(folder.stat().st_mode | 0o005)  # let "nobody" reach the test folder
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, walk, report, exit without cleanup
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            found = discover([root])
            result = ([p.name for p in found.files], [(str(p), r) for p, r in found.unreadable])
            os.write(write_end, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    names, unreadable = json.loads(data)
    return names, [tuple(item) for item in unreadable]


# --- the parse pool -------------------------------------------------------------------------
# The hooks below run in the pool's worker processes, which import them from this module.


def hanging_or_crashing_parse(path: Path, *, max_bytes: int) -> list[ParsedPart]:
    """parse_file, except that ".hang" files hang (after starting a converter-like child
    process) and ".crash" files kill their worker."""
    if path.suffix == ".hang":
        child = subprocess.Popen(["sleep", "600"])
        path.with_suffix(".pid").write_text(str(child.pid))
        time.sleep(600)
    if path.suffix == ".crash":
        os._exit(7)
    return parse_file(path, max_bytes=max_bytes)


def environment_probe(path: Path, *, max_bytes: int) -> list[ParsedPart]:
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DO_NOT_TRACK", "SCARF_NO_ANALYTICS")
    return [ParsedPart("", ",".join(f"{k}={os.environ.get(k)}" for k in keys), [])]


def test_pool_timeout_and_crash_fail_only_their_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Alpha\n\nThe alpha team ships in March.\n")
    (tmp_path / "b.hang").write_text("hangs")
    (tmp_path / "c.crash").write_text("crashes")
    write_text_pdf(tmp_path / "d.pdf", ["Delta report.", "Page two of the delta report."])
    (tmp_path / "e.txt").write_bytes(b"")
    files = sorted(p for p in tmp_path.iterdir() if p.is_file())
    with ParsePool(2, timeout=8, parse=hanging_or_crashing_parse) as pool:
        timed = {r.path.name: r for r in pool.map_unordered(files)}
    results = {name: r.outcome for name, r in timed.items()}
    assert 8 <= timed["b.hang"].seconds < 12
    assert set(results) == {p.name for p in files}
    assert str(results["b.hang"]) == "parser timed out after 8 s"
    assert str(results["c.crash"]) == "parser crashed (exit code 7)"
    assert str(results["e.txt"]) == "empty file"
    alpha, delta = results["a.md"], results["d.pdf"]
    assert isinstance(alpha, list) and alpha[0].title == "Alpha"
    assert isinstance(delta, list)
    assert [e.metadata.page_number for e in delta[0].elements] == [1, 2]
    # The hung worker's child process was killed with it.
    converter = int((tmp_path / "b.pid").read_text())
    assert _gone_or_zombie(converter)


def _gone_or_zombie(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = next(line for line in status.read_text().splitlines() if line[:6] == "State:")
        except FileNotFoundError:
            return True
        if "Z" in state.split()[1]:
            return True
        time.sleep(0.1)
    return False


def test_pool_keeps_at_most_k_files_in_flight(tmp_path: Path) -> None:
    paths = []
    for i in range(8):
        (tmp_path / f"note{i}.txt").write_text(f"Note number {i} about the ledger.")
        paths.append(tmp_path / f"note{i}.txt")
    pulled = 0

    def feed() -> Iterator[Path]:
        nonlocal pulled
        for path in paths:
            pulled += 1
            yield path

    consumed = 0
    with ParsePool(2) as pool:
        for _, result, seconds in pool.map_unordered(feed(), ahead=3):
            consumed += 1
            assert isinstance(result, list) and seconds > 0
            assert pulled <= consumed + 3  # those handed over, plus at most 3 in flight
    assert consumed == len(paths)


def test_pool_submit_and_offline_workers(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x")
    with ParsePool(1, parse=environment_probe) as pool:
        probe = pool.submit(tmp_path / "x.txt").result(timeout=600)
    assert probe[0].title == (
        "HF_HUB_OFFLINE=1,TRANSFORMERS_OFFLINE=1,DO_NOT_TRACK=1,SCARF_NO_ANALYTICS=1"
    )
    with ParsePool(1) as pool:
        future = pool.submit(tmp_path / "missing.txt")
        with pytest.raises(ParseError, match=r"^cannot read: No such file or directory$"):
            future.result(timeout=600)
