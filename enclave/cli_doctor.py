"""`enclave doctor`: the effective configuration (secrets masked), where each model file is
loaded from, and every network destination the service is configured to use, with a warning
for each one that is not on this machine."""

import ipaddress
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from pydantic import SecretStr
from rich.console import Console

from enclave.settings import Settings, is_loopback

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
    # Not the service's own traffic, but a browser opening /schema loads the API viewer's
    # script from this CDN (Litestar's default OpenAPI page).
    found.append(
        Destination("API docs page (/schema) in the browser", "https://cdn.jsdelivr.net", False,
                    "the browser, not the service, fetches it; /schema/openapi.json is local")
    )  # fmt: skip
    return found


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
    if as_json:
        report = {
            "configuration": config,
            "model_files": [asdict(f) for f in files],
            "destinations": [asdict(d) for d in places],
            "offline_switches": offline_switches(),
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
        out.print("[bold]Offline switches[/bold] (set at start-up by enclave.offline)")
        for name, value in offline_switches().items():
            out.print(f"  {name}={value}", markup=False)
        for warning in warnings:
            out.print(f"[yellow]warning:[/yellow] {warning}", markup=True)
        if not warnings:
            out.print("[green]Everything is local.[/green]")
    if strict and warnings:
        raise SystemExit(1)
