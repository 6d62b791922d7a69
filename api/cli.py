"""The ``elster`` command line: one verb per pipeline step.

``elster fetch | build | route | plan | demand | solve | simulate | sweep |
serve | bench``. Every domain registers its verbs from its own module in
:mod:`api.commands`; heavy imports happen inside the commands so that
``elster --help`` stays fast. Errors raised on purpose (:class:`ElsterError`)
print one clear line and exit with code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from routing.errors import ElsterError

app = typer.Typer(
    name="elster",
    help="Elster: mobility and last-mile routing engine for Gera.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Domain modules under api/commands, each exposing ``register(app)``.
COMMAND_MODULES = (
    "road", "transit", "demand", "fleet", "serve", "operations", "sweep", "compare",
)  # fmt: skip


@app.callback()
def _configure(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log warnings and errors only."),
) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for _name in COMMAND_MODULES:
    importlib.import_module(f"api.commands.{_name}").register(app)


def main() -> None:
    """Entry point of the ``elster`` console script."""
    try:
        app()
    except ElsterError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
