"""The ``ibpub`` command. The only module that reads argv and the process environment.

Exit codes: 0 clean stop (also after SIGINT/SIGTERM), 2 usage or configuration error,
1 anything else fatal.
"""

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import zmq

import publisher.bridge as bridge
import publisher.commands.keys as keys
import publisher.proxy as proxy
import publisher.sim.cli as sim_cli
import publisher.tap.cli as tap_cli
from publisher import __version__
from publisher.commands.check_config import check_config
from publisher.config import add_override_flags, load_settings, overrides_from_args
from publisher.errors import ConfigError
from publisher.logs import configure_logging
from publisher.signals import install_stop_handlers

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_USAGE = 2

log = logging.getLogger("publisher")

EPILOG = """\
exit codes: 0 clean stop (also after Ctrl-C or SIGTERM), 2 usage or configuration error,
1 anything else fatal.

quick start:
  ibpub demo                          simulated gateway + publisher + live quotes
  ibpub sim --port 4010 &             a simulated IB Gateway on its own
  ibpub run --config ibpub.toml       publish from a gateway (real or simulated)
  ibsub tail                          watch the bus from another terminal
"""


def _add_config_args(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        required=required,
        default=None if required else "deploy/examples/demo.toml",
        help="TOML configuration file" + ("" if required else " (default: %(default)s)"),
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (default: %(default)s)",
    )
    add_override_flags(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibpub",
        description="Interactive Brokers market data on a ZeroMQ bus.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ibpub {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run",
        help="connect to IB Gateway/TWS and publish market data",
        description="Connect to IB Gateway or TWS, subscribe the configured instruments and "
        "publish every tick on the bus. Settings come from the file, then IBPUB_<SECTION>_<KEY> "
        "environment variables, then these flags (flags win).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_config_args(run, required=True)

    sim = sub.add_parser(
        "sim",
        help="run the simulated IB Gateway",
        description="A simulated IB Gateway speaking the TWS API socket protocol, streaming "
        "seeded random-walk quotes. Any TWS API client can connect to it.",
    )
    sim_cli.add_arguments(sim)

    demo = sub.add_parser(
        "demo",
        help="simulated gateway + publisher + a live quote view, in one command",
        description="Start the simulated gateway and the publisher in this process and show "
        "live quotes. Subscribe from another terminal with `ibsub tail`. Ctrl-C stops.",
    )
    _add_config_args(demo, required=False)

    check = sub.add_parser(
        "check-config",
        help="validate a configuration file without connecting",
        description="Validate a configuration file (and IBPUB_* environment overrides) and "
        "print the effective settings. Exit 0 when valid, 2 with the file, key and problem "
        "when not.",
    )
    check.add_argument("file", metavar="FILE", help="TOML configuration file")

    proxy_parser = sub.add_parser(
        "proxy",
        help="forward publishers' buses to subscribers on other hosts (XSUB/XPUB)",
        description=proxy.DESCRIPTION,
        epilog=proxy.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    proxy.add_arguments(proxy_parser)

    keys_parser = sub.add_parser(
        "keys",
        help="generate CURVE key pairs for the publisher and its subscribers",
        description=keys.DESCRIPTION,
        epilog=keys.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    keys.add_arguments(keys_parser)

    bridge_parser = sub.add_parser(
        "bridge",
        help="copy the bus into a NATS JetStream stream (history for ibsub replay)",
        description=bridge.DESCRIPTION,
        epilog=bridge.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bridge.add_arguments(bridge_parser)
    tap_parser = sub.add_parser(
        "tap",
        help="record a TWS API session: a proxy between a client and a gateway",
        description=tap_cli.DESCRIPTION,
        epilog=tap_cli.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tap_cli.add_arguments(tap_parser)
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from publisher.service.root import PublisherService

    configure_logging(args.log_level)
    settings = load_settings(args.config, os.environ, overrides_from_args(args))
    try:
        service = PublisherService(settings)
    except zmq.ZMQError as exc:  # a port another process holds: say which, no traceback
        print(
            f"error: {args.config}: cannot bind a socket: {exc} (is another publisher using it? "
            "bus.pub, bus.snapshot and control.listen name the endpoints)",
            file=sys.stderr,
        )
        return EXIT_FATAL
    install_stop_handlers(service.stop)
    return service.run()


def _cmd_demo(args: argparse.Namespace) -> int:
    from publisher.commands.demo import run_demo

    configure_logging(args.log_level if args.log_level != "INFO" else "WARNING")
    settings = load_settings(args.config, os.environ, overrides_from_args(args))
    return run_demo(settings)


def _cmd_proxy(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    service = proxy.ProxyService(proxy.settings_from_args(args))
    install_stop_handlers(service.stop)
    return service.run()


def _cmd_bridge(args: argparse.Namespace) -> int:
    from publisher.bridge.service import BridgeService

    configure_logging(args.log_level)
    config = bridge.load_bridge_settings(args.config, os.environ, bridge.overrides_from_args(args))
    service = BridgeService(config)
    install_stop_handlers(service.stop)
    return service.run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "demo":
            return _cmd_demo(args)
        if args.command == "check-config":
            return check_config(args.file, os.environ)
        if args.command == "proxy":
            return _cmd_proxy(args)
        if args.command == "bridge":
            return _cmd_bridge(args)
        if args.command == "keys":
            return keys.run(args)
        if args.command == "tap":
            return tap_cli.run(args)
        if args.command == "sim":
            configure_logging(args.log_level)
            code: int = sim_cli.run(args)
            return code
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE  # pragma: no cover  # parser.error exits


if __name__ == "__main__":
    sys.exit(main())
