"""`python -m datagen`: the same command as `rainforest datagen`."""

from __future__ import annotations

import typer

from etl.cli.datagen import datagen

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(datagen)

if __name__ == "__main__":
    app()
