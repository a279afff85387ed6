"""The ``crewtui`` command: the app with no subcommand, and its headless twin.

Headless commands (``kickoff``, ``status``, ``watch``, ``list``, ...) import no Textual, so
they start fast in scripts and CI. Every error is one sentence on stderr and a documented
exit code (see ``ExitCode``), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from crewtui import __version__
from crewtui.api.errors import ConfigError, CrewtuiError, ExitCode
from crewtui.api.rows import SUMMARY_FIELDS
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState
from crewtui.core.stall import STUCK

EPILOG = """\
exit codes: 0 success (completed, with --exit-status; cancelled, for cancel);
1 the run failed or was cancelled (cancel: it had already completed or failed);
2 bad usage or config; 3 gave up waiting (--timeout) or not finished yet;
4 not found or lost; 5 token rejected; 6 unreachable after retries;
7 the service answered something crewtui cannot use.
"""


# How ``serve --listen`` is named when refused (``crewtui.serve`` checks it again).
LISTEN_WHAT = "The --listen address"
# How ``crewtui web`` hands a --token to the app sessions it starts, off their command line.
TOKEN_HANDOFF_ENV = "CREWTUI_APP_TOKEN"  # noqa: S105 (a variable name)

# The global options (by dest) each command uses; the others are refused with one sentence.
_CREW_OPTIONS = ("crew", "url", "token", "home")
_RECEIVER_OPTIONS = ("webhooks", "public_url")
_GLOBAL_OPTIONS = (*_CREW_OPTIONS, "json", *_RECEIVER_OPTIONS)
_HEADLESS = (
    "inputs", "kickoff", "batch", "status", "watch", "list", "track", "resume", "cancel",
    "doctor", "diff", "stats", "inbox", "logs",
)  # fmt: skip
OPTIONS_USED: dict[str | None, frozenset[str]] = {
    None: frozenset({*_CREW_OPTIONS, *_RECEIVER_OPTIONS}),  # the app
    "demo": frozenset(_RECEIVER_OPTIONS),
    **{name: frozenset({*_CREW_OPTIONS, "json"}) for name in _HEADLESS},
    # They follow runs to the end: a receiver lives as long as they do.
    "watch": frozenset({*_CREW_OPTIONS, "json", *_RECEIVER_OPTIONS}),
    "kickoff": frozenset({*_CREW_OPTIONS, "json", *_RECEIVER_OPTIONS}),
    "batch": frozenset({*_CREW_OPTIONS, "json", *_RECEIVER_OPTIONS}),
    # A service: it logs (``--log-format``) instead of printing results.
    "serve": frozenset({*_CREW_OPTIONS, *_RECEIVER_OPTIONS}),
    # The app, in a browser: its sessions are the app with the same options.
    "web": frozenset({*_CREW_OPTIONS, *_RECEIVER_OPTIONS}),
}

# What a KICKOFF_ID argument takes, said in each command's help.
_AN_ID = "a kickoff id, or a unique prefix of one in the history"
# `sim` keeps nothing on disk (``--home`` changes nothing) and ``--token`` is its crews'.
SIM_OPTIONS = frozenset({"home", "token"})


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Every command and option; also the source of ``--help``."""
    parser = _Parser(
        prog="crewtui",
        description="A terminal monitor for crews deployed on CrewAI AMP.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"crewtui {__version__}")
    _add_global_options(parser, uses=frozenset(_GLOBAL_OPTIONS), on_subcommand=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        subparser = sub.add_parser(
            name, help=help_text, description=f"crewtui {name}: {help_text}."
        )
        _add_global_options(subparser, uses=OPTIONS_USED[name], on_subcommand=True)
        return subparser

    command("inputs", "a crew's required inputs")

    kick = command("kickoff", "start a run")
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
    kick.add_argument(
        "--restore-from",
        metavar="STATE_ID",
        help="a flow: start from the saved state of this execution (restoreFromStateId); "
        "to restart an execution itself, give its id as an input (-i id=KICKOFF_ID)",
    )
    kick.add_argument("--watch", action="store_true", help="follow the run until it ends")
    _add_wait_options(kick)
    _add_notify_option(kick)

    batch = command("batch", "one kickoff per row of a CSV or JSON Lines file")
    batch.description = (
        "One kickoff per row of FILE.csv (a header of input names) or FILE.jsonl (one object "
        "a line); meta.-prefixed columns are meta. Every run is tagged with meta batch and row. "
        "The same command again, or --resume BATCH_ID, resumes a batch cut short and never "
        "starts a row twice."
    )
    batch.add_argument("file", nargs="?", metavar="FILE", help="a .csv or .jsonl file of rows")
    batch.add_argument("--resume", metavar="BATCH_ID", help="continue a batch of the history")
    batch.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="at most N runs going at once (default 4, or the batch's own when resumed)",
    )
    batch.add_argument(
        "--new", action="store_true", help="start a new batch even if this file already ran"
    )
    batch.add_argument(
        "--resend-uncertain",
        action="store_true",
        help="send again the rows whose answer never came (their runs may exist)",
    )
    _add_wait_options(batch)

    status = command("status", "a kickoff's status now")
    status.add_argument("ids", nargs="+", metavar="KICKOFF_ID", help=_AN_ID)
    status.add_argument(
        "--exit-status",
        action="store_true",
        help="exit 0 completed, 1 failed, 3 still going, 4 not found",
    )

    watch = command("watch", "follow kickoffs to the end")
    watch.add_argument("ids", nargs="+", metavar="KICKOFF_ID", help=_AN_ID)
    _add_wait_options(watch)
    _add_notify_option(watch)

    logs = command("logs", "what happens across runs, one line each; -f follows")
    logs.description = (
        "What happens across runs, one timestamped line each: state changes, tasks starting "
        "and ending (agent, duration), pushed steps and tool calls, tokens. Without -f, what "
        "the history remembers; with -f, then every new line until Ctrl-C. --crew (or --url) "
        "keeps one crew's runs."
    )
    logs.add_argument("ids", nargs="*", metavar="KICKOFF_ID", help=f"only these runs ({_AN_ID})")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new lines (Ctrl-C stops)"
    )
    logs.add_argument(
        "--since",
        type=_since,
        metavar="T",
        help="only lines from T on: a duration ago (10m, 2h, 1d) or a time (2026-12-01T14:00)",
    )

    history = command("list", "the local history")
    history.add_argument(
        "--state",
        action="append",
        choices=[*(s.value for s in RunState), STUCK],
        help=f"only runs in this state (repeat); {STUCK}: running past their usual time",
    )
    history.add_argument("--all", action="store_true", help="include archived kickoffs")
    history.add_argument("--limit", type=int, default=50, help="at most N rows (default 50)")
    history.add_argument(
        "--fields",
        type=_list_fields,
        metavar="F1,F2",
        help="print only these JSON fields, comma-separated (implies --json)",
    )

    diff = command("diff", "compare two runs of a crew: tasks, times, tokens, output diff")
    diff.add_argument("ids", nargs=2, metavar="KICKOFF_ID", help=_AN_ID)

    stats = command("stats", "runs, success rate, task times, tokens and cost of each crew")
    stats.add_argument(
        "--window",
        type=_window,
        default="7d",
        metavar="24h|7d|30d",
        help="how far back (any Nh or Nd; default 7d)",
    )

    command("inbox", "runs waiting for a person, the one waiting longest first")

    track = command("track", "adopt a kickoff id")
    track.add_argument(
        "ids", nargs="+", metavar="KICKOFF_ID", help="a kickoff id started elsewhere (the whole id)"
    )

    resume = command("resume", "answer a run waiting for input (experimental)")
    resume.description = (
        "Answer a run waiting for input (experimental). A crew's pause is answered with POST "
        "/resume; a flow's human-in-the-loop request through its callback, with the feedback "
        "text (or approved / rejected when none is given)."
    )
    resume.add_argument("id", metavar="KICKOFF_ID", help=_AN_ID)
    answer = resume.add_mutually_exclusive_group()
    answer.add_argument("--approve", action="store_true", help="accept the task's output")
    answer.add_argument("--reject", action="store_true", help="send is_approve=false")
    resume.add_argument("--feedback", metavar="TEXT", help="what to tell the crew")
    resume.add_argument(
        "--task", metavar="TASK_ID", help="the task answered (default: the one the run waits on)"
    )

    cancel = command("cancel", "stop running or paused runs (experimental)")
    cancel.add_argument("ids", nargs="+", metavar="KICKOFF_ID", help=_AN_ID)
    cancel.add_argument(
        "-y", "--yes", action="store_true", help="don't ask first (needed without a terminal)"
    )

    command("doctor", "check crews, tokens and the store")

    demo = command("demo", "the app on a built-in simulator, no account needed")
    demo.add_argument("--dialect", choices=["live", "documented"], default="live")
    demo.add_argument(
        "--speed",
        type=_positive_float,
        default=10.0,
        help="how much faster than real crews the runs go (default 10)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=None,
        help="which day of runs to show: the same seed gives the same history and new runs",
    )

    serve = command("serve", "poll and receive webhooks as a service: logs, health, metrics")
    serve.add_argument(
        "--listen",
        metavar="HOST:PORT",
        type=_address_option(LISTEN_WHAT),
        help="answer /healthz and /metrics here (default 127.0.0.1:8788)",
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --listen take an address other machines can reach",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="log lines on stderr as text (default) or one JSON object per line",
    )

    web = command("web", "the app in a browser, on a loopback address with a secret token")
    web.add_argument("--host", default="127.0.0.1", help="listen here (default 127.0.0.1)")
    web.add_argument(
        "--port", type=_port, default=8789, help="listen on this port (default 8789; 0: any)"
    )
    web.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --host take an address other machines can reach",
    )

    # Only the global options are parsed here, wherever they are: the rest is sim's (main()).
    sim = sub.add_parser(
        "sim",
        help="run the AMP simulator (see `crewtui sim --help`)",
        add_help=False,
        usage="%(prog)s [OPTIONS] (see `crewtui sim --help`)",
    )
    _add_global_options(sim, uses=SIM_OPTIONS, on_subcommand=True)
    return parser


def _refuse_misplaced_option(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """One sentence for a command's own option given before the command's name.

    Only the global options go there: argparse reads ``crewtui --listen ADDR serve`` as the
    command ``ADDR`` ("invalid choice") and ``crewtui --all list`` as a stray argument, which
    say nothing of the fix. Walks the words before the command, skipping global options'
    values, and names the first one that the command itself takes.
    """
    at = _command_position(parser, argv)
    if at is None:
        return
    word = argv[at]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    own = _sim_options() if word == "sim" else commands.choices[word]._option_string_actions
    known = parser._option_string_actions
    for option in argv[:at]:
        name = option.partition("=")[0]
        if name.startswith("-") and name not in known and name in own:
            parser.error(
                f"{name} is an option of `crewtui {word}`: give it after the command, "
                f"as in `crewtui {word} {name} ...`."
            )


def _command_position(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int | None:
    """Where the command's name is in ``argv`` (None: the app), global options' values
    skipped (``crewtui --home sim sim`` is the command ``sim`` in the home ``sim``)."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    known = parser._option_string_actions
    for at, word in enumerate(argv):
        if word == "--":
            return None
        if word in commands.choices:
            if at > 0 and _takes_value(known, argv[at - 1]):
                continue
            return at
    return None


def _takes_value(known: dict[str, argparse.Action], word: str) -> bool:
    """``word`` is a global option whose value is the next word."""
    action = known.get(word) if word.startswith("-") and "=" not in word else None
    return action is not None and action.nargs != 0


def _split_sim_words(
    parser: argparse.ArgumentParser, words: Sequence[str]
) -> tuple[list[str], list[str]]:
    """``sim``'s words as crewtui's global options (with their values) and sim's own.

    ``crewtui --help`` shows the global options, and every command takes them after its
    name too: ``crewtui sim --home D`` is ``crewtui --home D sim`` (a home changes nothing
    for it), and ``crewtui sim --json`` gets the sentence ``crewtui --json sim`` gets,
    not sim's parser's "unrecognized arguments". ``--token`` stays sim's: its crews' token.
    """
    own = _sim_options()
    known = {
        option: action
        for option, action in parser._option_string_actions.items()
        if action.dest in _GLOBAL_OPTIONS and option not in own
    }
    given: list[str] = []
    rest: list[str] = []
    remaining = iter(words)
    for word in remaining:
        if word == "--":  # sim takes no positional argument: it says what is wrong with these
            rest += [word, *remaining]
        elif word.partition("=")[0] in known:
            given.append(word)
            if _takes_value(known, word):
                given += itertools.islice(remaining, 1)
        else:
            rest.append(word)
    return given, rest


def _sim_options() -> dict[str, argparse.Action]:
    """``sim``'s options: its parser is its own (see main()); the placeholder here takes only
    the global options."""
    from crewtui.sim.cli import build_parser as sim_parser

    return sim_parser()._option_string_actions


def _add_global_options(
    parser: argparse.ArgumentParser, *, uses: frozenset[str], on_subcommand: bool
) -> None:
    """The options that mean the same before and after the command's name.

    ``crewtui --home D list`` is ``crewtui list --home D``; given in both places, the later
    one wins. A subparser writes every default it has over the namespace the main parser
    filled, so on a subcommand the default is SUPPRESS: absent stays absent. Every command
    accepts every global option, and the ones it cannot use are hidden from its help and
    refused with one sentence (see ``refuse_unused_options``), the same in both places.
    """
    absent = argparse.SUPPRESS if on_subcommand else None

    def shown(dest: str, text: str) -> str:
        return text if dest in uses else argparse.SUPPRESS

    def where(commands: str) -> str:
        return "" if on_subcommand else f" ({commands})"

    crews = parser.add_argument_group("crew selection")
    crews.add_argument(
        "--crew", metavar="NAME", default=absent, help=shown("crew", "a crew from the config file")
    )
    crews.add_argument(
        "--url",
        default=absent,
        help=shown("url", "a crew's base URL, for a crew not in the config file"),
    )
    crews.add_argument(
        "--token",
        default=absent,
        help=shown("token", "bearer token (prefer CREWAI_BEARER_TOKEN: flags show in `ps`)"),
    )
    crews.add_argument(
        "--home",
        metavar="DIR",
        default=absent,
        help=shown("home", "config and history here (CREWTUI_HOME)"),
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=absent,
        help=shown("json", "machine-readable output" + where("the headless commands")),
    )
    parser.add_argument(
        "--webhooks",
        metavar="HOST:PORT",
        type=_address_option("The webhook address"),
        default=absent,
        help=shown(
            "webhooks",
            "receive task/step/crew webhooks here"
            + where("the app, demo, watch, kickoff --watch, batch, serve, web"),
        ),
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        type=_public_url,
        default=absent,
        help=shown("public_url", "the address the service should post webhooks to"),
    )


def _address_option(what: str) -> Callable[[str], str]:
    """A HOST:PORT option checked while parsing, so a typo never starts anything; ``what``
    names the address in the sentence that refuses it."""

    def check(text: str) -> str:
        from crewtui.api.validate import parse_listen

        try:
            parse_listen(text, what)
        except CrewtuiError as error:
            raise argparse.ArgumentTypeError(error.message) from None
        return text

    return check


def _public_url(text: str) -> str:
    """``--public-url``, by the rule the config file's ``[webhooks] public_url`` follows."""
    from crewtui.api.errors import ConfigError
    from crewtui.api.validate import check_public_url

    try:
        return check_public_url(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def _list_fields(text: str) -> tuple[str, ...]:
    """``list --fields a,b``: known field names, in the order given."""
    fields = tuple(name.strip() for name in text.split(",") if name.strip())
    known = (*SUMMARY_FIELDS, STUCK)
    unknown = [name for name in fields if name not in known]
    if unknown or not fields:
        what = f"{inert_line(unknown[0], 40)!r} is not a field" if unknown else "no field given"
        raise argparse.ArgumentTypeError(f"{what}; choose among {', '.join(known)}")
    return fields


def _window(text: str) -> object:
    """``stats --window``: checked while parsing, so a typo never opens the history."""
    from crewtui.core.stats import parse_window

    try:
        return parse_window(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def refuse_unused_options(args: argparse.Namespace) -> None:
    """One sentence for a global option the command cannot use, wherever it was given."""
    uses = SIM_OPTIONS if args.command == "sim" else OPTIONS_USED[args.command]
    for dest in _GLOBAL_OPTIONS:
        if dest not in uses and getattr(args, dest) is not None:
            raise ConfigError(_why_unused(dest, args.command))
    if args.command == "kickoff" and args.notify and not args.watch:
        raise ConfigError(
            "--notify needs --watch: `crewtui kickoff` alone ends as soon as the run starts; "
            "add --watch or drop --notify."
        )
    if args.command == "kickoff" and not args.watch:
        for dest in _RECEIVER_OPTIONS:
            if getattr(args, dest) is not None:
                flag = "--" + dest.replace("_", "-")
                raise ConfigError(
                    f"{flag} needs --watch: `crewtui kickoff` alone ends before the run "
                    f"pushes anything; add --watch or drop {flag}."
                )
    if args.command in ("kickoff", "watch", "batch") and args.public_url and not args.webhooks:
        raise ConfigError(
            "--public-url needs --webhooks HOST:PORT, the address the receiver listens on."
        )


def _why_unused(dest: str, command: str | None) -> str:
    flag = "--" + dest.replace("_", "-")
    if command == "sim":
        return f"`crewtui sim` serves its own example crews and prints no results: drop {flag}."
    if dest in _RECEIVER_OPTIONS:
        return (
            f"{flag} is for the app, the demo, `watch` and `kickoff --watch`, which receive "
            f"webhooks; `crewtui {command}` polls instead: drop {flag}."
        )
    what = "the app" if command is None else f"`crewtui {command}`"
    if dest == "json" and command == "serve":
        return "`crewtui serve` prints no results, it logs: use --log-format json, not --json."
    if dest == "json":
        return f"--json is for the headless commands; {what} draws a screen: drop --json."
    return f"{what} runs on its own simulator's crews, in a throwaway home: drop {flag}."


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


def _add_notify_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--notify",
        action="store_true",
        help="a desktop notification (OSC 9/777, on stderr; [notify] in the config) when the "
        "run ends or waits for input; it reaches your laptop over SSH and tmux",
    )


def _since(text: str) -> datetime:
    """``logs --since``: a duration ago or a time, checked while parsing."""
    from crewtui.core.run_log import parse_since

    try:
        return parse_since(text, datetime.now(UTC))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crewtui`` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Start-up makes some 150,000 objects that live as long as the process (modules,
    # classes, the models' schemas, the first screen) and little garbage, and the collector
    # walked them again and again before the app's first frame (~100 ms of CPU). It resumes
    # when start-up is over: before a headless command runs (``_dispatch``), after the app's
    # first frame (``crewtui.ui.app``, which freezes those objects first).
    gc.disable()
    parser = build_parser()
    _refuse_misplaced_option(parser, args_list)
    at = _command_position(parser, args_list)
    if at is not None and args_list[at] == "sim":
        # `sim` parses its own options: the global ones, before it or after, are parsed here.
        given, own = _split_sim_words(parser, args_list[at + 1 :])
        args = parser.parse_args([*args_list[: at + 1], *given])
        args.sim_args = own
    else:
        args = parser.parse_args(args_list)
    logging.basicConfig(level=logging.WARNING, format="crewtui: %(message)s")
    secrets: list[str] = [args.token] if getattr(args, "token", None) else []
    try:
        return _dispatch(args, secrets)
    except CrewtuiError as error:
        _fail(_redact(error.message, secrets))
        return int(error.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # `crewtui list | head`: the reader has what it wanted. Python's own flush at exit
        # would fail again on the closed pipe: what is left goes nowhere.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.OK)
    except Exception as error:  # the promise: never a traceback
        if os.environ.get("CREWTUI_DEBUG"):
            # The traceback is what debug mode is for; the tokens in it are not.
            trace = "".join(traceback.format_exception(error))
            sys.stderr.write(_redact(trace, secrets))
            return 1
        detail = _redact(f"{type(error).__name__}: {error}", secrets)
        _fail(
            f"crewtui hit an unexpected error ({detail}); rerun with CREWTUI_DEBUG=1 and report it."
        )
        return 1
    finally:
        gc.enable()  # however it ended: a caller in the same process goes on collecting


def _dispatch(args: argparse.Namespace, secrets: list[str]) -> int:
    from crewtui.config import TOKEN_ENVS, load_config, resolve_paths

    # Known before anything can fail: an env token is otherwise only learnt with the crews.
    secrets.extend(os.environ[name] for name in TOKEN_ENVS if os.environ.get(name))
    refuse_unused_options(args)
    if args.command == "sim":
        from crewtui.sim import main as sim_main

        gc.enable()  # a server that runs until stopped
        given = [] if args.token is None else ["--token", args.token]
        return sim_main([*given, *args.sim_args])
    if args.command == "demo":  # its own crews and home: the user's config is not read
        from crewtui.demo import run_demo

        return run_demo(
            args.dialect,
            speed=args.speed,
            seed=args.seed,
            webhooks_listen=args.webhooks,
            public_url=args.public_url,
        )
    paths = resolve_paths(args.home)
    config = load_config(paths)
    secrets.extend(crew.bearer() or "" for crew in config.crews.values() if crew.bearer())
    if args.command is None:
        from crewtui.config import select_crews
        from crewtui.ui.app import run_app

        # ``crewtui web`` hands its --token on this way, off the command line (crewtui.web).
        token = args.token if args.token is not None else os.environ.pop(TOKEN_HANDOFF_ENV, None)
        if token:
            secrets.append(token)
        crews = select_crews(config, crew=args.crew, url=args.url, token=token)
        return run_app(
            crews, config, paths, webhooks_listen=args.webhooks, public_url=args.public_url
        )
    if args.command == "serve":
        from crewtui.serve import run_serve

        gc.enable()
        return run_serve(args, config, paths, secrets)
    if args.command == "web":
        from crewtui.web import run_web

        gc.enable()
        return run_web(args, config, paths, secrets)
    from crewtui import headless

    if args.command in ("kickoff", "watch", "batch"):  # they give up on a crew down
        headless.give_up_budget()  # a bad CREWTUI_GIVE_UP_SECONDS is said before sending
    command: Callable[[Any], Any] = getattr(headless, f"cmd_{args.command}")
    session = headless.Session(args, config, paths, secrets)
    gc.enable()
    with _sigint_taken():
        result: int = asyncio.run(command(session))
    return result


@contextlib.contextmanager
def _sigint_taken() -> Iterator[None]:
    """A headless command stops on SIGINT even when it came in ignored.

    A job that a shell without job control starts in the background (``crewtui watch ID &``
    in a script, a test runner started so) inherits SIGINT ignored, and ``asyncio.run``
    takes SIGINT only over Python's default handler: Ctrl-C or ``kill -INT`` never stopped
    ``watch``, which follows runs for as long as they go. With the default handler back,
    ``asyncio.run`` cancels the command and ``main`` exits 130, as from a terminal. The
    handler found is put back after, for a caller in the same process."""
    ignored = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    )
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` without the tokens of this invocation, in any of their representations."""
    from crewtui.api.redact import redact

    return redact(text, secrets)


def _fail(message: str) -> None:
    sys.stderr.write(f"crewtui: {inert_line(message)}\n")
