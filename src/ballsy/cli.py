"""The `ballsy` command: serve, ask, transcribe, db …, users …, config check."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ballsy import __version__
from ballsy.config import ConfigError, Settings, load_settings
from ballsy.importer.cli import import_sqlite_command

app = typer.Typer(
    help="Ballsy, a self-hostable voice assistant.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database migrations and imports.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
users_app = typer.Typer(help="Users and identities.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(users_app, name="users")


def _settings(**overrides: object) -> Settings:
    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
        settings.check_production()
        return settings
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:  # pydantic validation: name the setting and the problem
        first = str(exc).splitlines()
        typer.echo("configuration error: " + " ".join(first[:3]), err=True)
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ballsy {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Ballsy, a self-hostable voice assistant."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT, 8080).")] = None,
) -> None:
    """Serve the page, the API and the WebSocket."""
    # Loading the server creates some 160,000 objects that live as long as the process;
    # the cyclic collector would walk them over and over while they load (about a tenth
    # of the start-up time). The server turns it back on, with them frozen, once it listens.
    gc.disable()
    try:
        from ballsy.server import serve as run_server

        run_server(_settings(host=host, port=port))
    finally:
        gc.enable()


@app.command()
def ask(question: Annotated[str, typer.Argument(help="What to ask.")]) -> None:
    """Ask once and stream the reply in the terminal, through the same pipeline."""
    from ballsy.cli_runs import ask_once

    raise typer.Exit(asyncio.run(ask_once(_settings(), question)))


@app.command()
def transcribe(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Transcribe an audio file with the server's speech model."""
    from ballsy.cli_runs import transcribe_once

    raise typer.Exit(asyncio.run(transcribe_once(_settings(), file)))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from ballsy.db import migrate

    settings = _settings()
    migrate.upgrade(settings.database_url_value(), revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = "-1") -> None:
    """Revert migrations down to REVISION (default: one step)."""
    from ballsy.db import migrate

    migrate.downgrade(_settings().database_url_value(), revision)
    typer.echo(f"database downgraded to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision and the latest one."""
    from ballsy.cli_runs import current_revision
    from ballsy.db import migrate

    current = asyncio.run(current_revision(_settings()))
    typer.echo(f"current: {current or 'none'}  head: {migrate.head_revision()}")


# The importer's command, defined once in its package (`python -m ballsy.importer` runs it too).
db_app.command("import-sqlite")(import_sqlite_command)


@config_app.command("check")
def config_check() -> None:
    """Print the resolved configuration with secrets redacted; exit 2 if it is unsafe."""
    settings = _settings()
    typer.echo(json.dumps(settings.redacted(), indent=2, default=str))


@users_app.command("issue-token")
def issue_token(username: str) -> None:
    """Give an existing user (e.g. one imported from the prototype) a new session token.

    Prints the token once; open the page with `#token=<token>` to sign in as them.
    Any previous token of that user stops working."""
    from ballsy.cli_runs import issue_user_token

    raise typer.Exit(asyncio.run(issue_user_token(_settings(), username)))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
