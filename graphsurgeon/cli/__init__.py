"""The ``gs`` command line: one module a subcommand, each with add_arguments(parser) and run(args)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from graphsurgeon import __version__
from graphsurgeon.errors import GraphSurgeonError

# Subcommand name -> module under graphsurgeon.cli. A module that is missing is skipped, so a
# subcommand can land on its own.
SUBCOMMANDS = ["freeze", "constify", "prune", "inspect", "run", "validate", "optimize", "draw", "diff", "convert"]


def _wanted(argv: Sequence[str] | None) -> list[str]:
    """The subcommand modules that parsing ``argv`` needs (all of them when ``argv`` is None).

    Importing a subcommand imports what it works with (numpy, the generated protobuf modules, ...),
    so ``gs inspect x.pb`` imports only the inspect command and ``gs --version`` none at all. The
    options before a subcommand take no values, so the first word not starting with ``-`` is the
    subcommand; a word that is none (a typo) gets all of them, for argparse's list of choices.
    """
    if argv is None:
        return SUBCOMMANDS
    words = list(argv)
    command = next((w for w in words if not w.startswith("-")), None)
    if command is None and "--version" in words and not {"-h", "--help"} & set(words):
        return []
    return [command] if command in SUBCOMMANDS else SUBCOMMANDS


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``gs`` parser; with ``argv``, only the subcommand it names is set up (see :func:`_wanted`)."""
    parser = argparse.ArgumentParser(
        prog="gs",
        description="Freeze, prune and inspect TensorFlow graphs without TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each step does")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _wanted(argv)
    for name in SUBCOMMANDS:
        if name not in wanted:
            continue
        try:
            module = importlib.import_module(f"graphsurgeon.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"graphsurgeon.cli.{name}":
                continue
            raise
        doc = (module.__doc__ or "").strip().splitlines()[0]
        sub_parser = sub.add_parser(name, help=doc, description=(module.__doc__ or "").strip(),
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        sub_parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                                help="log what each step does")
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``gs`` in-process; returns the exit code (0 ok, 1 user error, 2 usage error)."""
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="gs: %(message)s", stream=sys.stderr)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except GraphSurgeonError as err:
        message = " ".join(str(err).split("\n"))
        # one line, and nothing a terminal would act on (names from damaged files may hold escapes)
        message = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in message)
        print(f"gs: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gs: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


def main_entry() -> None:
    """Console-script entry point: ``gs ...``."""
    sys.exit(main())
