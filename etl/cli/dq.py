"""`rainforest dq`: the last run's quality results; `rainforest dq docs`: where Data Docs are."""

from __future__ import annotations

import typer
from rich.table import Table as RichTable

from etl.cli._output import console, exits_cleanly
from etl.services.settings import ServiceSettings

app = typer.Typer(
    help="Data quality: the last run's rule results (`dq`), the Data Docs folder (`dq docs`).",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
)


@app.callback()
@exits_cleanly
def results(ctx: typer.Context) -> None:
    """Print every rule's result of the last run that checked rules."""
    if ctx.invoked_subcommand is not None:
        return
    from etl.core.errors import TableNotFoundError
    from etl.core.lake.records import read_records
    from etl.core.lake.storage import Storage
    from etl.core.quality.results import results_uri

    settings = ServiceSettings.load()
    uri = results_uri(settings)
    rows = read_records(uri, Storage.from_settings(settings))
    if rows is None:
        raise TableNotFoundError(f"No quality results at {uri} yet: run `rainforest run` first.")
    records = rows.to_pylist()
    last = max(records, key=lambda r: (r["run_ts"], r["run_id"]))
    shown = [r for r in records if r["run_id"] == last["run_id"]]
    listing = RichTable(title=f"run {last['run_id']} at {last['run_ts']:%Y-%m-%d %H:%M:%S} UTC")
    for column in ("table", "rule", "severity", "ok", "unexpected", "observed"):
        listing.add_column(column, justify="right" if column == "unexpected" else "left")
    for r in shown:
        unexpected = r["unexpected_count"]
        listing.add_row(
            r["table"],
            r["rule"],
            r["severity"],
            "[green]yes[/]" if r["success"] else "[red]no[/]",
            "" if unexpected is None else f"{unexpected:,}",
            r["observed_value"] or "",
        )
    console.print(listing)


@app.command()
@exits_cleanly
def docs() -> None:
    """Print the folder of the Great Expectations Data Docs (open its index.html)."""
    from etl.core.quality.results import data_docs_folder

    folder = data_docs_folder(ServiceSettings.load())
    console.print(str(folder))
    if not (folder / "index.html").is_file():
        console.print("(empty until `rainforest run` has checked rules)")
