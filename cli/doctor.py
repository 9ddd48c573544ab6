"""`enclave doctor`: the effective configuration (secrets masked), where each model file is
loaded from, and every network destination the service is configured to use, with a warning
for each one that is not on this machine."""

import ipaddress
import json
import logging
import os
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import click
from pydantic import SecretStr
from rich.console import Console

from enclave.settings import Settings, is_loopback

if TYPE_CHECKING:
    from litestar.testing import TestClient

MASK = "********"


@dataclass(frozen=True)
class Destination:
    what: str
    address: str
    local: bool
    note: str = ""


@dataclass(frozen=True)
class ModelFile:
    what: str
    path: str
    origin: str
    exists: bool


def masked_url(url: str) -> str:
    """A URL with its password replaced (database and Qdrant URLs may carry one)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


def effective_config(settings: Settings) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = MASK if value.get_secret_value() else ""
        elif isinstance(value, Path):
            value = str(value)
        elif name.endswith("_url") and isinstance(value, str):
            value = masked_url(value)
        values[name] = value
    return values


def _host_local(host: str | None) -> bool:
    return bool(host) and is_loopback(host or "")


def model_files(settings: Settings) -> list[ModelFile]:
    from enclave.model_files import default_embedding_model, default_llm_model

    files = []
    for what, path, default, variable in (
        ("embedding model", settings.embedding_model, default_embedding_model(),
         "ENCLAVE_EMBEDDING_MODEL"),
        ("LLM (GGUF)", settings.llm_model_path, default_llm_model(), "ENCLAVE_LLM_MODEL_PATH"),
    ):  # fmt: skip
        origin = "installed package (default)" if path == default else variable
        files.append(ModelFile(what, str(path), origin, bool(path and Path(path).exists())))
    if settings.embedding_backend != "torch":
        from enclave.embedder_onnx import cache_dir

        onnx = cache_dir(settings.data_dir)
        files.append(ModelFile("ONNX export of the embedder", str(onnx), "exported locally "
                               f"({settings.embedding_backend})", onnx.exists()))  # fmt: skip
    return files


def destinations(settings: Settings) -> list[Destination]:
    found: list[Destination] = []
    database = urlsplit(settings.database_url)
    if database.scheme.startswith("sqlite"):
        found.append(Destination("database", f"file {database.path.lstrip('/') or ':memory:'}",
                                 True, "SQLite file"))  # fmt: skip
    else:
        found.append(Destination("database", masked_url(settings.database_url),
                                 _host_local(database.hostname)))  # fmt: skip
    if settings.qdrant_url:
        host = urlsplit(settings.qdrant_url).hostname
        found.append(Destination("Qdrant", settings.qdrant_url, _host_local(host)))
    else:
        found.append(Destination("Qdrant", f"embedded, folder {settings.store_path()}", True))
    found.append(
        Destination(
            "listens on",
            f"{settings.host}:{settings.port}",
            is_loopback(settings.host),
            "" if is_loopback(settings.host) else "reachable from other machines",
        )
    )
    for proxy in settings.auth_trusted_proxy:
        network = ipaddress.ip_network(proxy, strict=False)
        found.append(Destination("trusted SSO proxy", proxy, network.is_loopback))
    found += docs_page(settings)
    return found


DOCS_PAGE = "API docs page (/schema) in the browser"


class _Links(HTMLParser):
    """Every src and href in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def docs_page(settings: Settings) -> list[Destination]:
    """Not the service's own traffic: where a browser opening /schema loads the API viewer
    from. The page is rendered by the app itself (no lifespan: no model or database is
    opened) and every src/href in it must be this service and be served by it."""
    from litestar.testing import TestClient

    from app.main import create_app

    # The page does not depend on the address; create_app refuses auth=off off loopback.
    here = settings.model_copy(update={"host": "127.0.0.1"})
    # httpx logs each request at INFO, which would land in the report (and break --json).
    quiet = logging.getLogger("httpx")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        return _docs_page_links(TestClient(create_app(here), base_url="http://127.0.0.1"))
    except Exception as error:  # a report, not a crash: say what went wrong
        return [Destination(DOCS_PAGE, "/schema", False, f"could not be checked: {error}")]
    finally:
        quiet.setLevel(level)


def _docs_page_links(client: "TestClient[Any]") -> list[Destination]:
    page = client.get("/schema")
    page.raise_for_status()
    links = _Links()
    links.feed(page.text)
    found: list[Destination] = []
    local_files = []
    for link in links.found:
        url = urlsplit(urljoin("http://127.0.0.1/schema", link))
        if url.hostname and not is_loopback(url.hostname):
            found.append(Destination(DOCS_PAGE, link, False, "the browser fetches it"))
        elif client.get(url.path).status_code != 200:
            found.append(Destination(DOCS_PAGE, url.path, False, "not served by Enclave"))
        else:
            local_files.append(url.path)
    if not found:
        found.append(Destination(DOCS_PAGE, f"this service ({len(local_files)} files)", True,
                                 "viewer vendored under /static/vendor"))  # fmt: skip
    return found


def llama_report(settings: Settings) -> tuple[dict[str, Any], list[str]]:
    """The llama.cpp build (version, CPU features, flags) and a few tokens generated with the
    configured model in a child process, so a build that crashes shows here, not in a
    request. With a remote llama.cpp server configured there is no local build to check."""
    from enclave.llama_build import REBUILD_HINT, build_info, check_generation

    info = build_info()
    report: dict[str, Any] = {
        "version": info.version,
        "system_info": info.system_info,
        "cmake_args": info.cmake_args,
        "uses_amx": info.uses_amx,
        "native": info.native,
    }
    if not settings.llm_model_path:
        return report, []
    check = check_generation(Path(settings.llm_model_path), timeout=60)
    report["generation_check"] = {"ok": check.ok, "detail": check.detail}
    if check.ok:
        return report, []
    causes = [cause for cause, present in (("uses AMX", info.uses_amx),
              ("was built with -march=native", info.native)) if present]  # fmt: skip
    why = f" (the build {' and '.join(causes)})" if causes else ""
    first_line = check.detail.splitlines()[0] if check.detail else "failed"
    return report, [f"llama.cpp: generating with the model {first_line}{why}. {REBUILD_HINT}"]


def offline_switches() -> dict[str, str | None]:
    from enclave.offline import OFFLINE_ENVIRONMENT

    return {name: os.environ.get(name) for name in OFFLINE_ENVIRONMENT}


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when something is not local.")
@click.pass_obj
def doctor_command(settings: Settings, as_json: bool, strict: bool) -> None:
    """Print the effective configuration, the model files and every network destination;
    warn on anything that is not on this machine."""
    config = effective_config(settings)
    files = model_files(settings)
    places = destinations(settings)
    warnings = [f"{d.what}: {d.address} is not local" + (f" ({d.note})" if d.note else "")
                for d in places if not d.local]  # fmt: skip
    warnings += [f"{f.what}: {f.path} does not exist" for f in files if not f.exists]
    llama, llama_warnings = llama_report(settings)
    warnings += llama_warnings
    if as_json:
        report = {
            "configuration": config,
            "model_files": [asdict(f) for f in files],
            "destinations": [asdict(d) for d in places],
            "offline_switches": offline_switches(),
            "llama_cpp": llama,
            "warnings": warnings,
        }
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        out = Console(highlight=False, soft_wrap=True)
        out.print("[bold]Configuration[/bold] (ENCLAVE_*; secrets masked)")
        for name, value in config.items():
            out.print(f"  {name} = {value}", markup=False)
        out.print("[bold]Model files[/bold]")
        for f in files:
            state = "" if f.exists else "  [red]missing[/red]"
            out.print(f"  {f.what}: {f.path}  ({f.origin}){state}")
        out.print("[bold]Network destinations[/bold]")
        for d in places:
            tag = "[green]local[/green]" if d.local else "[yellow]NOT LOCAL[/yellow]"
            out.print(f"  {tag}  {d.what}: {d.address}" + (f"  ({d.note})" if d.note else ""))
        out.print(f"[bold]llama.cpp build[/bold] (llama-cpp-python {llama['version']})")
        out.print(f"  CPU features: {llama['system_info']}", markup=False)
        out.print(f"  CMake flags: {llama['cmake_args'] or 'unknown (not built by make install)'}",
                  markup=False)  # fmt: skip
        if "generation_check" in llama:
            check = llama["generation_check"]
            state = "[green]ok[/green]" if check["ok"] else "[red]FAILED[/red]"
            out.print(f"  generation check: {state}")
        out.print("[bold]Offline switches[/bold] (set at start-up by enclave.offline)")
        for name, value in offline_switches().items():
            out.print(f"  {name}={value}", markup=False)
        for warning in warnings:
            out.print(f"[yellow]warning:[/yellow] {warning}", markup=True)
        if not warnings:
            out.print("[green]Everything is local.[/green]")
    if strict and warnings:
        raise SystemExit(1)
