"""The `ballsy` command: serve, ask, transcribe, db …, users …, config check.

Exit codes (also in the README): 0 done; 1 the command ran but did not succeed (no
speech heard, no such user, an AI reply that failed at run time, an unexpected error);
2 the configuration or the environment is wrong (a bad setting, a database or AI provider
that cannot be reached or refuses us, bad arguments); 130 interrupted. Failures print one
line on stderr saying what is wrong and how to fix it; `ballsy --debug …` adds the traceback.

Only what a command needs is imported, inside the command: `ballsy ask "what time is it"`
must answer without loading SQLAlchemy, the AI SDKs, the speech model or the web server
(tests/test_cli.py checks it). Measured: importing this module takes about 0.25 s (341
modules); importing the command modules up front would add about 0.68 s (451 modules)
to every command, a local answer included.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from ballsy import __version__
from ballsy.cli_errors import CliError, describe
from ballsy.config import ConfigError, Settings, load_settings
from ballsy.importer.cli import import_sqlite_command

# Set by `_settings()`, so a failure can be described with where the database is.
_loaded: Settings | None = None


def _plain_help(params: list[Any]) -> list[Any]:
    """Help without typer's `<bool>` on flags and with arguments named in capitals."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
        elif isinstance(param, TyperArgument) and param.metavar is None and param.name:
            param.metavar = param.name.upper()
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "").upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class _Group(TyperGroup):
    """Turns any failure of a subcommand into one line and exit code 2 (or 1)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            if ctx.find_root().params.get("debug"):
                raise
            raise typer.Exit(_report(exc)) from None


def _report(exc: Exception) -> int:
    url = _loaded.database_url_value() if _loaded is not None else None
    line = describe(exc, url)
    if line is not None:
        typer.echo(f"error: {line}", err=True)
        return exc.code if isinstance(exc, CliError) else 2
    first = (str(exc).strip().splitlines() or [""])[0]
    typer.echo(
        f"error: {type(exc).__name__}: {first} (run `ballsy --debug …` for the traceback)",
        err=True,
    )
    return 1


def _typer(help_text: str, epilog: str | None = None) -> typer.Typer:
    return typer.Typer(
        cls=_Group,
        help=help_text,
        epilog=epilog,
        no_args_is_help=True,
        add_completion=False,
        # --debug prints Python's own traceback; never a rich one with local variables,
        # which would show secrets.
        pretty_exceptions_enable=False,
    )


app = _typer(
    "Ballsy, a self-hostable voice assistant.",
    epilog=(
        'Examples:  ballsy serve --port 8080  ·  ballsy ask "what\'s 7 times 8"  ·  '
        "ballsy config check --connect  ·  ballsy db upgrade.  "
        "Exit codes: 0 done, 1 failed, 2 configuration or environment problem."
    ),
)
db_app = _typer("Database migrations and imports.")
config_app = _typer("Check the configuration (environment variables and .env).")
users_app = _typer("Users and identities.")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(users_app, name="users")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _settings(**overrides: object) -> Settings:
    global _loaded
    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
        settings.check_production()
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:  # pydantic validation: name the setting and the problem
        typer.echo(f"configuration error: {_validation_line(exc)}", err=True)
        raise typer.Exit(2) from None
    _loaded = settings
    return settings


def _validation_line(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return " ".join(str(exc).splitlines()[:3])
    first = errors(include_url=False, include_input=False)[0]
    name = ".".join(str(part) for part in first.get("loc", ())).upper()
    message = str(first.get("msg", "")).removeprefix("Value error, ")
    return f"{name}: {message}" if name else message


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
    debug: Annotated[
        bool, typer.Option("--debug", help="On failure, show the traceback and the logs.")
    ] = False,
) -> None:
    """Ballsy, a self-hostable voice assistant."""
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    else:
        # The one-line error says what failed; keep library warnings (logged with no
        # handler configured) from adding lines of their own.
        logging.getLogger("ballsy").addHandler(logging.NullHandler())


@app.command(cls=_Command, epilog="Example: ballsy serve --host 0.0.0.0 --port 8080")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT, 8080).")] = None,
) -> None:
    """Serve the page, the API and the WebSocket."""
    from ballsy.cli_runs import prepare_database, startup_line

    settings = _settings(host=host, port=port)
    prepare_database(settings, migrate_sqlite=True)
    typer.echo(startup_line(settings), err=True)
    # Loading the server creates some 160,000 objects that live as long as the process;
    # the cyclic collector would walk them over and over while they load (230 collections).
    # Measured, importing the server and building the app: median 0.99 s with it on, 0.88 s
    # off (8 alternating runs each). The server turns it back on, with them frozen, once it
    # listens; the start-up garbage frozen with them costs about 0.5 MiB of RSS.
    gc.disable()
    try:
        from ballsy.server import serve as run_server

        run_server(settings)
    finally:
        gc.enable()


@app.command(
    cls=_Command,
    epilog=(
        'Examples: ballsy ask "what time is it"  ·  ballsy ask --json "what\'s 6 times 7". '
        "Exit 1 when the AI reply fails, 2 when the AI provider refuses the configuration."
    ),
)
def ask(
    question: Annotated[str, typer.Argument(help="What to ask, in quotes.")],
    as_json: JsonFlag = False,
) -> None:
    """Ask once and print the reply (AI replies stream as they arrive)."""
    from ballsy.cli_runs import ask_once

    raise typer.Exit(asyncio.run(ask_once(_settings(), question, as_json=as_json)))


@app.command(
    cls=_Command,
    epilog="Example: ballsy transcribe question.wav. Exit 1 when no speech is heard.",
)
def transcribe(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An audio file.")],
    as_json: JsonFlag = False,
) -> None:
    """Transcribe an audio file with the server's speech model."""
    from ballsy.cli_runs import transcribe_once

    raise typer.Exit(asyncio.run(transcribe_once(_settings(), file, as_json=as_json)))


@db_app.command("upgrade", cls=_Command, epilog="Example: ballsy db upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from ballsy.cli_runs import prepare_database
    from ballsy.db import migrate

    settings = _settings()
    prepare_database(settings)
    migrate.upgrade(settings.database_url_value(), revision)
    typer.echo(f"database at {revision}")


def _at_terminal() -> bool:
    """Someone can answer a question (not a Cloud Run job, a pipe or a script)."""
    return sys.stdin.isatty()


@db_app.command(
    "downgrade",
    cls=_Command,
    epilog=(
        "Examples: ballsy db downgrade 0001  ·  ballsy db downgrade base --yes. "
        "Exit 2 for a relative, unknown or newer revision (nothing is changed)."
    ),
)
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(help="Revision id to go back to (see `ballsy db current`), or base.")
    ],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask, even at a terminal.")
    ] = False,
) -> None:
    """Undo the migrations newer than REVISION; their tables and columns are dropped with
    their data.

    At a terminal it asks first. Without one (a Cloud Run job, a script) the absolute
    REVISION is the confirmation: running the same command again changes nothing more.
    """
    from ballsy.cli_runs import current_revision, prepare_database
    from ballsy.db import migrate
    from ballsy.db.downgrade import DowngradeRefused, plan_downgrade

    settings = _settings()
    prepare_database(settings)
    current = asyncio.run(current_revision(settings))
    try:
        plan = plan_downgrade(current, revision)
    except DowngradeRefused as exc:
        raise CliError(f"not downgraded: {exc}") from None
    if plan.changes_nothing:
        typer.echo(f"database already at {current or 'no revision'}; nothing to undo")
        return
    undoing = ", ".join(plan.undone)
    if not yes and _at_terminal():
        typer.confirm(
            f"Undo {undoing} (from {plan.current} down to {plan.target})? "
            "Their tables and columns are dropped with their data.",
            abort=True,
        )
    migrate.downgrade(settings.database_url_value(), plan.target)
    typer.echo(f"database downgraded from {plan.current} to {plan.target} (undid {undoing})")


@db_app.command("current", cls=_Command)
def db_current(as_json: JsonFlag = False) -> None:
    """Print the database's migration revision and the latest one."""
    from ballsy.cli_runs import current_revision, prepare_database
    from ballsy.db import migrate

    settings = _settings()
    prepare_database(settings)
    current = asyncio.run(current_revision(settings))
    head = migrate.head_revision()
    if as_json:
        typer.echo(json.dumps({"current": current, "head": head}))
    else:
        behind = "  (behind: run `ballsy db upgrade`)" if current != head else ""
        typer.echo(f"current: {current or 'none'}  head: {head}{behind}")


# The importer's command, defined once in its package (`python -m ballsy.importer` runs it too).
db_app.command("import-sqlite")(import_sqlite_command)


@config_app.command(
    "check",
    cls=_Command,
    epilog="Examples: ballsy config check  ·  ballsy config check --connect --json",
)
def config_check(
    connect: Annotated[
        bool,
        typer.Option(
            "--connect",
            help="Also connect: the database (and its migration revision) and the AI "
            "provider (one tiny request).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Print the resolved configuration with secrets redacted; exit 2 if it cannot start
    or is unsafe for production."""
    from ballsy.cli_checks import check_connections, check_startable

    settings = _settings()
    check_startable(settings)
    values = settings.redacted()
    checks = asyncio.run(check_connections(settings)) if connect else []
    if as_json:
        if checks:
            values["(checks)"] = {part: {"ok": ok, "detail": line} for part, ok, line in checks}
        typer.echo(json.dumps(values, indent=2, default=str))
    else:
        for name, value in values.items():
            typer.echo(f"{name}={json.dumps(value, default=str)}")
    for part, ok, line in checks:
        if not ok:
            typer.echo(f"error: {part}: {line}", err=True)
        elif not as_json:
            typer.echo(f"{part}: {line}")
    if not all(ok for _, ok, _ in checks):
        raise typer.Exit(2)


@users_app.command("issue-token", cls=_Command, epilog="Example: ballsy users issue-token ada")
def issue_token(username: Annotated[str, typer.Argument(help="An existing username.")]) -> None:
    """Give an existing user (e.g. one imported from the prototype) a new session token.

    Prints the token once; open the page with `#token=<token>` to sign in as them.
    Any previous token of that user stops working."""
    from ballsy.cli_runs import issue_user_token, prepare_database

    settings = _settings()
    prepare_database(settings)
    raise typer.Exit(asyncio.run(issue_user_token(settings, username)))


@users_app.command("prune")
def prune_users(
    days: Annotated[
        int | None,
        typer.Option(
            min=1, help="Unseen for this many days (default: ANONYMOUS_USER_RETENTION_DAYS)."
        ),
    ] = None,
    with_history: Annotated[
        bool,
        typer.Option(help="Also delete idle anonymous users that have turns, with all their data."),
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Users deleted per transaction.")] = 500,
) -> None:
    """Delete anonymous users with no turns that were not seen for DAYS days.

    The server applies the same rule every hour (ANONYMOUS_USER_RETENTION_DAYS);
    users with history are kept unless --with-history is given. Imported users are
    never deleted."""
    from ballsy.cli_runs import prune_anonymous_users

    settings = _settings()
    days = days or settings.anonymous_user_retention_days
    if not days:
        typer.echo("give --days (ANONYMOUS_USER_RETENTION_DAYS is 0: retention is off)", err=True)
        raise typer.Exit(2)
    raise typer.Exit(
        asyncio.run(
            prune_anonymous_users(
                settings, days=days, with_history=with_history, batch_size=batch_size
            )
        )
    )


def main() -> None:
    try:
        app(prog_name="ballsy")  # also under `python -m ballsy`
    except KeyboardInterrupt:
        sys.exit(130)
