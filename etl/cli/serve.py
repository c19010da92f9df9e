"""`rainforest serve`: the lake's tables and the interface views over JDBC/ODBC, for BI tools."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from etl.cli._output import console, error_console, exits_cleanly
from etl.services.settings import ServiceSettings


@exits_cleanly
def serve(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port of the server.")] = 10000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    refresh_seconds: Annotated[
        int,
        typer.Option(
            min=0, help="How often tables move to their newest Delta version; 0 pins them."
        ),
    ] = 60,
) -> None:
    """Serve SQL over JDBC/ODBC (HiveServer2 protocol) until Ctrl-C.

    The same names as `rainforest sql` answer, e.g.
    `beeline -u jdbc:hive2://127.0.0.1:10000 -e 'SELECT * FROM daily_order_report'`.
    Every `--refresh-seconds` the server picks up tables written or built since it started.
    """
    from etl.cli._wiring import open_catalog
    from etl.core.session import build_session
    from etl.core.thrift import thrift_server

    stop = threading.Event()
    # SIGTERM (a service manager, `kill`) ends the server as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    settings = ServiceSettings.load()
    spark = build_session(settings, app_name="rainforest-serve")
    try:
        catalog = open_catalog(spark, settings)
        with thrift_server(
            spark, host=host, port=port, log_dir=settings.state_dir / "serve"
        ) as url:
            names = len(catalog.entries)
            console.print(f"Serving {names} tables and views of {settings.warehouse_uri} at {url}")
            for name, reason in sorted(catalog.missing.items()):
                console.print(f"[yellow]not served: {name}: {reason}[/]")
            console.print("Press Ctrl-C to stop.")
            while not stop.wait(refresh_seconds or None):
                try:
                    changed = catalog.refresh()
                except Exception as error:  # a failed refresh must not take the server down
                    error_console.print(f"[yellow]refresh failed, serving as before:[/] {error}")
                    continue
                if changed:
                    console.print(f"refreshed: {', '.join(changed)}")
    except KeyboardInterrupt:
        pass
    finally:
        spark.stop()
    console.print("Stopped.")
