"""The ``stillwatch`` command. Each command group lives in its own module and registers here.

Exit codes: 0 all good, 1 findings (or quarantined rows with ``--fail-on-quarantine``),
2 a usage or input error, printed on one line without a traceback.
"""

from __future__ import annotations

import sys

import typer

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
        bench_ingest,
        bench_quality,
        bench_simulate,
        demo,
        ingest,
        simulate,
        store,
    )


def main() -> None:
    _register()
    try:
        app()
    except StillwatchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: the store keeps every file that finished; rerun to go on", err=True
        )
        sys.exit(130)


if __name__ == "__main__":
    main()
