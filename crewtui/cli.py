"""The ``crewtui`` command: the app with no subcommand, and its headless twin.

Headless commands (``kickoff``, ``status``, ``watch``, ``list``, ...) import no Textual, so
they start fast in scripts and CI. Every error is one sentence on stderr and a documented
exit code (see ``ExitCode``), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from crewtui import __version__
from crewtui.api.errors import CrewtuiError, ExitCode
from crewtui.api.models import RunState

EPILOG = """\
exit codes: 0 success (completed, with --exit-status); 1 the run failed or was cancelled;
2 bad usage or config; 3 gave up waiting (--timeout) or not finished yet;
4 not found or lost; 5 token rejected; 6 unreachable after retries;
7 the service answered something crewtui cannot use.
"""


class _Parser(argparse.ArgumentParser):
    """argparse that exits with our usage code (2) and one clear line."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"crewtui: {message}\n")
        raise SystemExit(ExitCode.USAGE)


def _key_value(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` as given to -i/--meta; the value may itself contain '='."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not KEY=VALUE (for example -i topic='AI agents')"
        )
    return key.strip(), value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Every command and option; also the source of ``--help``."""
    common = _Parser(add_help=False)
    target = common.add_argument_group("crew selection")
    target.add_argument("--crew", metavar="NAME", help="a crew from the config file")
    target.add_argument("--url", help="a crew's base URL, for a crew not in the config file")
    target.add_argument(
        "--token", help="bearer token (prefer CREWAI_BEARER_TOKEN: flags show in `ps`)"
    )
    target.add_argument("--home", metavar="DIR", help="config and history here (CREWTUI_HOME)")
    output = _Parser(add_help=False)
    output.add_argument("--json", action="store_true", help="machine-readable output")

    parser = _Parser(
        prog="crewtui",
        description="A terminal monitor for crews deployed on CrewAI AMP.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"crewtui {__version__}")
    _add_webhook_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("inputs", parents=[common, output], help="a crew's required inputs")

    kick = sub.add_parser("kickoff", parents=[common, output], help="start a run")
    kick.add_argument(
        "-i",
        "--input",
        dest="inputs",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="an input (repeat)",
    )
    kick.add_argument(
        "--meta",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="metadata echoed into webhooks (repeat)",
    )
    kick.add_argument("--task-webhook", metavar="URL")
    kick.add_argument("--step-webhook", metavar="URL")
    kick.add_argument("--crew-webhook", metavar="URL")
    kick.add_argument("--watch", action="store_true", help="follow the run until it ends")
    _add_wait_options(kick)

    status = sub.add_parser("status", parents=[common, output], help="a kickoff's status now")
    status.add_argument("ids", nargs="+", metavar="KICKOFF_ID")
    status.add_argument(
        "--exit-status",
        action="store_true",
        help="exit 0 completed, 1 failed, 3 still going, 4 not found",
    )

    watch = sub.add_parser("watch", parents=[common, output], help="follow kickoffs to the end")
    watch.add_argument("ids", nargs="+", metavar="KICKOFF_ID")
    _add_wait_options(watch)

    history = sub.add_parser("list", parents=[common, output], help="the local history")
    history.add_argument("--state", action="append", choices=[s.value for s in RunState])
    history.add_argument("--all", action="store_true", help="include archived kickoffs")
    history.add_argument("--limit", type=int, default=50, help="at most N rows (default 50)")

    track = sub.add_parser("track", parents=[common, output], help="adopt a kickoff id")
    track.add_argument("ids", nargs="+", metavar="KICKOFF_ID")

    resume = sub.add_parser(
        "resume", parents=[common, output], help="answer a run waiting for input (experimental)"
    )
    resume.add_argument("id", metavar="KICKOFF_ID")
    resume.add_argument("--task", required=True, metavar="TASK_ID")
    resume.add_argument("--feedback", required=True)
    resume.add_argument("--reject", action="store_true", help="send is_approve=false")

    sub.add_parser("doctor", parents=[common, output], help="check crews, tokens and the store")

    demo = sub.add_parser("demo", help="the app on a built-in simulator, no account needed")
    demo.add_argument("--dialect", choices=["live", "documented"], default="live")
    demo.add_argument(
        "--speed",
        type=_positive_float,
        default=10.0,
        help="how much faster than real crews the runs go (default 10)",
    )

    sub.add_parser("sim", help="run the AMP simulator (see `crewtui sim --help`)", add_help=False)
    return parser


def _add_webhook_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--webhooks",
        metavar="HOST:PORT",
        help="receive task/step/crew webhooks here (loopback by default)",
    )
    parser.add_argument(
        "--public-url", metavar="URL", help="the address the service should post webhooks to"
    )


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exit-status",
        action="store_true",
        help="exit 0 completed, 1 failed or cancelled, 4 not found or lost",
    )
    parser.add_argument(
        "--interval",
        type=_positive_float,
        metavar="S",
        help="poll every S seconds (default: adaptive, 1 s to 15 s)",
    )
    parser.add_argument(
        "--timeout", type=_positive_float, metavar="S", help="give up after S seconds (exit 3)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crewtui`` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sim"]:
        from crewtui.sim import main as sim_main

        return sim_main(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    logging.basicConfig(level=logging.WARNING, format="crewtui: %(message)s")
    secrets: list[str] = [args.token] if getattr(args, "token", None) else []
    try:
        return _dispatch(args, secrets)
    except CrewtuiError as error:
        _fail(_redact(error.message, secrets))
        return int(error.exit_code)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the promise: never a traceback
        if os.environ.get("CREWTUI_DEBUG"):
            raise
        detail = _redact(f"{type(error).__name__}: {error}", secrets)
        _fail(
            f"crewtui hit an unexpected error ({detail}); rerun with CREWTUI_DEBUG=1 and report it."
        )
        return 1


def _dispatch(args: argparse.Namespace, secrets: list[str]) -> int:
    from crewtui.config import TOKEN_ENVS, load_config, resolve_paths

    # Known before anything can fail: an env token is otherwise only learnt with the crews.
    secrets.extend(os.environ[name] for name in TOKEN_ENVS if os.environ.get(name))
    paths = resolve_paths(args.home)
    config = load_config(paths)
    secrets.extend(crew.bearer() or "" for crew in config.crews.values() if crew.bearer())
    if args.command == "demo":
        from crewtui.demo import run_demo

        return run_demo(args.dialect, speed=args.speed)
    if args.command is None:
        from crewtui.config import select_crews
        from crewtui.ui.app import run_app

        crews = select_crews(config, crew=args.crew, url=args.url, token=args.token)
        return run_app(
            crews, config, paths, webhooks_listen=args.webhooks, public_url=args.public_url
        )
    from crewtui import headless

    command: Callable[[Any], Any] = getattr(headless, f"cmd_{args.command}")
    session = headless.Session(args, config, paths, secrets)
    result: int = asyncio.run(command(session))
    return result


def _redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` without the tokens of this invocation, in any of their representations."""
    from crewtui.api.redact import redact

    return redact(text, secrets)


def _fail(message: str) -> None:
    from crewtui.api.sanitize import inert_line

    sys.stderr.write(f"crewtui: {inert_line(message)}\n")
