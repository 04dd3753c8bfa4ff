"""The ``stillwatch`` command. Each command group lives in its own module and registers here.

Exit codes: 0 all good, 1 findings (or quarantined rows with ``--fail-on-quarantine``),
2 a usage or input error, printed on one line without a traceback.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import typer

from stillwatch.engine.store import is_interruption
from stillwatch.errors import StillwatchError

app = typer.Typer(
    name="stillwatch",
    help="Find distillation campaigns in a model provider's API traffic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bench_app = typer.Typer(
    help="Benchmarks that print figures: ingest speed, simulator speed, detection quality.",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def _register() -> None:
    # Importing a command module registers its commands on ``app`` / ``bench_app``.
    from stillwatch.cli import (  # noqa: F401
        bench_classifiers,
        bench_content,
        bench_ingest,
        bench_intervals,
        bench_perf,
        bench_quality,
        bench_serve,
        bench_simulate,
        campaigns,
        demo,
        ingest,
        intel,
        report,
        scan,
        serve,
        simulate,
        store,
        users,
    )


class _CtrlC:
    """Remembers that Ctrl-C came, then interrupts as Python does.

    DuckDB does not always report the interruption as such: a pending KeyboardInterrupt
    met while it looks up an Arrow table handed to SQL makes the table seem missing (a
    CatalogException). Whatever error follows a Ctrl-C is the interruption's doing.
    """

    seen = False

    @classmethod
    def handle(cls, signum: int, frame: FrameType | None) -> None:
        cls.seen = True
        signal.default_int_handler(signum, frame)


def main() -> None:
    _register()
    signal.signal(signal.SIGINT, _CtrlC.handle)
    try:
        app()
    except StillwatchError as exc:
        if not _CtrlC.seen:
            typer.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        _interrupted()
    except (KeyboardInterrupt, Exception) as exc:
        # DuckDB's Python client reports Ctrl-C during a query as a RuntimeError.
        if not (_CtrlC.seen or is_interruption(exc)):
            raise
        _interrupted()


def _interrupted() -> None:
    typer.echo("interrupted: the store keeps every file that finished; rerun to go on", err=True)
    sys.exit(130)


if __name__ == "__main__":
    main()
