"""`rainforest stack`: the native three-node Spark cluster with S3, history server and Postgres."""

from __future__ import annotations

import typer

from etl.cli._output import console, exits_cleanly
from etl.services.settings import ServiceSettings
from etl.services.stack import NativeStack, ServiceState

app = typer.Typer(
    help="The native stack on 127.0.0.1: Spark master, two workers, history server, S3, Postgres.",
    no_args_is_help=True,
)

RUN_HINT = "Run the pipeline on it: RAINFOREST_PROFILE=cluster rainforest run"


@app.command()
@exits_cleanly
def up() -> None:
    """Start what is not running yet and wait until it answers; harmless when all of it runs."""
    stack = NativeStack(ServiceSettings.load())
    started = stack.up()
    console.print(f"Started: {', '.join(started)}" if started else "Already running.")
    _print(stack.status())
    console.print(f"Pid and log files: {stack.root}\n{RUN_HINT}")


@app.command()
@exits_cleanly
def down() -> None:
    """Stop what `stack up` started from this state folder; event logs and MinIO data stay."""
    stopped = NativeStack(ServiceSettings.load()).down()
    console.print(
        f"Stopped: {', '.join(stopped)}" if stopped else "Nothing of the stack was running."
    )


@app.command()
@exits_cleanly
def status() -> None:
    """Show each service, whether it runs, and the addresses to open or connect to."""
    stack = NativeStack(ServiceSettings.load())
    states = stack.status()
    _print(states)
    if all(state.running for state in states):
        console.print(RUN_HINT)


def _print(states: list[ServiceState]) -> None:
    """One line per service, never wrapped or cut, so that addresses can be copied."""
    for state in states:
        running = "[green]running[/]" if state.running else "[yellow]stopped[/]"
        pid = f"pid {state.pid}" if state.pid else ""
        note = f"  ({state.note})" if state.note else ""
        console.print(
            f"{state.name:<15} {running}  {pid:<10}  {'  '.join(state.addresses)}{note}",
            soft_wrap=True,
        )
