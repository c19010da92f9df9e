"""`rainforest db`: the upstream Postgres, a local server unless RAINFOREST_PG_DSN names one."""

from __future__ import annotations

import typer

from etl.cli._output import console, error_console, exits_cleanly
from etl.services.postgres import LocalPostgres, mask_dsn
from etl.services.settings import ServiceSettings

app = typer.Typer(
    help="The upstream Postgres: a local server, or the one RAINFOREST_PG_DSN names.",
    no_args_is_help=True,
)

EXTERNAL = "RAINFOREST_PG_DSN is set"


@app.command()
@exits_cleanly
def up() -> None:
    """Start the local server and create database rainforest; harmless when it runs already."""
    settings = ServiceSettings.load()
    server = LocalPostgres(settings)
    if server.external:
        console.print(f"{EXTERNAL}: using {mask_dsn(server.dsn())}, nothing to start.")
        return
    was_running = server.status().running
    dsn = server.up()
    console.print(f"{'Already running' if was_running else 'Started'}: [bold]{dsn}[/]")
    port = server.status().port
    if port != settings.pg_port:
        console.print(
            f"[yellow]Port {settings.pg_port} is taken by another program, so the server "
            f"listens on {port} (remembered in {server.port_file}). Set RAINFOREST_PG_PORT "
            "to choose another port.[/]"
        )


@app.command()
@exits_cleanly
def down() -> None:
    """Stop the local server of this project's state folder; its data stays."""
    server = LocalPostgres(ServiceSettings.load())
    if server.external:
        console.print(f"{EXTERNAL}: nothing to stop.")
    elif server.down():
        console.print(f"Stopped. The data stays in {server.data_dir}.")
    else:
        console.print("The local server was not running.")


@app.command()
@exits_cleanly
def status() -> None:
    """Show whether the server answers, where it listens and where its data and log are."""
    state = LocalPostgres(ServiceSettings.load()).status()
    running = "[green]running[/]" if state.running else "[yellow]not running[/]"
    if state.external:
        console.print(f"{EXTERNAL}: {state.dsn} is {running}.")
        return
    console.print(f"Local server: {running}")
    if state.running:
        console.print(f"  dsn   {state.dsn}\n  pid   {state.pid}")
    console.print(f"  data  {state.data_dir}\n  log   {state.log_file}")


@app.command()
@exits_cleanly
def url() -> None:
    """Print the DSN in use on one line, e.g. for `psql "$(rainforest db url)"`."""
    dsn = LocalPostgres(ServiceSettings.load()).dsn()
    masked = mask_dsn(dsn)
    typer.echo(masked)
    if masked != dsn:
        error_console.print("The password is masked; the full DSN is in RAINFOREST_PG_DSN.")
