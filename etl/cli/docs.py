"""`rainforest docs build` and `rainforest docs serve`: the docs site of every table."""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated

import typer

from etl.cli._output import console, exits_cleanly
from etl.core.errors import ConfigError
from etl.core.lineage import TableLineage
from etl.core.registry import Registry
from etl.services.settings import ServiceSettings

app = typer.Typer(
    help="The docs site: every table's columns, lineage, rules, runs and quality trend.",
    no_args_is_help=True,
)

Folder = Annotated[
    Path | None,
    typer.Option(
        "--folder",
        file_okay=False,
        help="Where the site is. Default: ops/docs in a local warehouse, else the state folder.",
    ),
]


@app.command()
@exits_cleanly
def build(
    folder: Folder = None,
    columns: Annotated[
        bool,
        typer.Option(
            "--columns/--no-columns",
            help="Show where every column comes from (starts a local Spark session to read the "
            "transforms' plans; needs the source tables built).",
        ),
    ] = True,
) -> None:
    """Write the docs site: an index with the whole lineage graph and a search, and a page per
    table with its columns, rules, last runs, quality trend and history."""
    from datagen import SCHEMA
    from etl.docs.site import build_site, docs_folder

    settings = ServiceSettings.load()
    registry = Registry.discover()
    target = folder or docs_folder(settings)
    lineage = _column_lineage(settings, registry, SCHEMA) if columns else []
    with console.status("writing the pages"):
        index = build_site(settings, registry, target, source_schema=SCHEMA, lineage=lineage)
    console.print(f"Docs site: {index} (`rainforest docs serve` serves it)")


def _column_lineage(
    settings: ServiceSettings, registry: Registry, schema: str
) -> list[TableLineage]:
    from etl.cli.lineage import column_lineage, unbuilt_sources

    unbuilt = unbuilt_sources(settings, registry)
    if unbuilt:
        console.print(
            f"[yellow]note:[/] no column lineage: {', '.join(unbuilt)} not built yet "
            "(their schemas are read); run `rainforest run` first."
        )
        return []
    return column_lineage(registry, schema)


@app.command()
@exits_cleanly
def serve(
    folder: Folder = None,
    port: Annotated[int, typer.Option(min=0, max=65535, help="The port on 127.0.0.1.")] = 8000,
) -> None:
    """Serve the docs site on 127.0.0.1 until Ctrl-C."""
    from etl.docs.site import docs_folder

    root = folder or docs_folder(ServiceSettings.load())
    if not (root / "index.html").is_file():
        raise ConfigError(f"No docs site in {root}: write it with `rainforest docs build` first.")
    handler = functools.partial(_QuietHandler, directory=str(root))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as error:
        raise ConfigError(
            f"Cannot serve on 127.0.0.1:{port} ({error.strerror}): pick another --port."
        ) from None
    console.print(f"Serving {root} on http://127.0.0.1:{server.server_port}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, format: str, *args: object) -> None:
        pass
