"""``crewtui sim``: run the simulator in the foreground and say how to point clients at it."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from crewtui.sim.server import FaultSettings, SimOptions, SimServer

DEFAULT_PORT = 8765


def _faults(text: str) -> FaultSettings:
    """``latency=0.5,error_rate=0.1,...`` as FaultSettings (argparse reports what is wrong)."""
    changes: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, value = item.partition("=")
        if not equals:
            raise argparse.ArgumentTypeError(f"{item!r} is not name=value, e.g. latency=0.5")
        changes[name.strip()] = value.strip()
    settings = FaultSettings()
    try:
        settings.update(changes)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return settings


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def _port(text: str) -> int:
    """A TCP port, refused here in one line: uvicorn would print a traceback for it."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be a port from 0 to 65535 (0 picks a free port)")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be a fraction from 0 to 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """``crewtui sim``'s options; crewtui's own CLI reads them too, to say where one given
    before ``sim`` belongs."""
    parser = argparse.ArgumentParser(
        prog="crewtui sim",
        description=(
            "Serve four example crews and one flow (onboarding: its approve_account method "
            "waits for a person) that behave like deployments on CrewAI AMP."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--dialect", choices=["live", "documented"], default="live")
    parser.add_argument(
        "--speed", type=_positive, default=1.0, help="10 runs ten times faster than reference"
    )
    parser.add_argument("--token", default=SimOptions.token, help="the crews' Bearer Token")
    parser.add_argument("--user-token", default=SimOptions.user_token)
    parser.add_argument(
        "--failure-rate", type=_fraction, default=0.0, help="fraction of runs failing"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--hitl-url",
        metavar="URL",
        help="send a signed human-in-the-loop request there when a run pauses",
    )
    parser.add_argument(
        "--hitl-secret", metavar="SECRET", help="the secret those requests are signed with"
    )
    parser.add_argument(
        "--fault",
        type=_faults,
        default=None,
        help="e.g. latency=0.5,error_rate=0.1,rate_limit_rate=0.1,retry_after=2,drop_rate=0.05",
    )
    return parser


def _banner(server: SimServer) -> str:
    options = server.options
    lines = [f"crewtui simulator: {options.dialect} dialect, speed {options.speed:g}x", ""]
    lines += [f"  {crew:<10} {server.crew_url(crew)}" for crew in server.CREWS]
    lines += [f"  {flow:<10} {server.crew_url(flow)}  (a flow)" for flow in server.FLOWS]
    lines += [
        "",
        f"Bearer Token:      {options.token}",
        f"User Bearer Token: {options.user_token}",
        "",
        "To use one crew from a shell:",
        f"  export CREWAI_API_URL={server.crew_url('travel')}"
        f" CREWAI_BEARER_TOKEN={options.token} CREWAI_USER_BEARER_TOKEN={options.user_token}",
        "",
    ]
    if options.hitl_url:
        lines += [
            f"A run that pauses (input hold=1) sends a signed request to {options.hitl_url}",
            "",
        ]
    lines += [
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM); 0 on a clean stop, 1 if it cannot listen."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.hitl_url) != bool(args.hitl_secret):
        parser.error("--hitl-url and --hitl-secret go together: give both or neither")
    if args.hitl_url and not args.hitl_url.startswith(("http://", "https://")):
        parser.error("--hitl-url must be an absolute http(s) URL")
    options = SimOptions(
        dialect=args.dialect,
        speed=args.speed,
        token=args.token,
        user_token=args.user_token,
        failure_rate=args.failure_rate,
        seed=args.seed,
        faults=args.fault or FaultSettings(),
        hitl_url=args.hitl_url,
        hitl_secret=args.hitl_secret,
    )
    # Before the banner: whoever reads it may send SIGTERM at once. SIGINT too: a job that a
    # shell without job control starts in the background comes in with it ignored, and
    # Python then never makes it a KeyboardInterrupt.
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _interrupt)
    server = SimServer(options, host=args.host, port=args.port)
    try:
        server.start()
    except RuntimeError as exc:
        print(f"crewtui sim: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        server.stop()
        return 0
    try:
        # Inside the try: a reader of the banner may send SIGTERM before print returns.
        print(_banner(server), flush=True)
        server.wait()
    except KeyboardInterrupt:
        print("\nStopping the simulator.", flush=True)
    finally:
        server.stop()
    return 0
