"""Entry point of the `nuanxin` console script.

Every deliberate failure (bad configuration, unreachable database, edited migration)
ends as one line on stderr and a non-zero exit code, never a traceback. Logs and that
line are redacted (core.logging, core.masking) whatever the command.
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version

from pydantic import ValidationError

from cli import (
    alerting,
    api,
    bench,
    broker,
    carrier_platforms,
    demo,
    elders,
    ingest,
    migrate,
    registry,
    serve,
    simulate,
)
from core.errors import NuanxinError
from core.logging import configure_logging
from core.masking import REDACTOR

Command = Callable[[argparse.Namespace], int]
USAGE_ERROR = 2  # as argparse exits for a bad option

# Each command module exposes `register(subparsers) -> [(name, handler), …]`.
COMMANDS = (
    demo,
    serve,
    migrate,
    broker,
    ingest,
    carrier_platforms,
    alerting,
    api,
    registry,
    elders,
    simulate,
    bench,
)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = argparse.ArgumentParser(
        prog="nuanxin",
        description=(
            "暖心智慧守护 backend: stores every reading from emergency buttons and smoke, gas "
            "and PIR sensors, and escalates danger until a person answers. Configuration "
            "comes from NUANXIN_* environment variables (see docs/operations.md)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('nuanxin')}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    handlers = {}
    for module in COMMANDS:
        handlers.update(module.register(subparsers))
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    # The redacting handler for commands that never configure logging (migrate, the
    # registry); the others replace it with their settings' level and format.
    configure_logging("WARNING")
    try:
        return handlers[args.command](args)
    except NuanxinError as exc:
        print(f"nuanxin {args.command}: error: {REDACTOR.redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except ValidationError as exc:  # an option the request models refuse, as the API would
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = REDACTOR.redact(f"{where}: {error['msg']}")
            print(f"nuanxin {args.command}: error: {message}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
