"""``ibpub bridge``'s arguments: ``--config FILE`` and one ``--section-key`` flag per setting."""

import argparse
from typing import Final

from publisher.bridge.settings import SETTINGS
from publisher.config.schema import dest, env_var_name, flag_name

__all__ = ["DESCRIPTION", "EPILOG", "add_arguments", "overrides_from_args"]

DESCRIPTION: Final = (
    "Copy every message of one or more buses (publishers or an ibpub proxy) into a NATS "
    "JetStream stream, with Nats-Msg-Id deduplication and every loss stored as a gap message. "
    "Settings come from the file, then IBPUB_<SECTION>_<KEY> variables, then these flags."
)
EPILOG: Final = """\
exit codes: 0 clean stop, 2 configuration error (also: NATS unreachable at start, bad
credentials, a stream of that name with other subjects), 1 anything else fatal.

example:
  ibpub bridge --config deploy/examples/bridge.toml
  ibsub replay --nats nats://127.0.0.1:4222 --since -10m tick.AAPL
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", required=True, help="bridge TOML file")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (default: %(default)s)",
    )
    group = parser.add_argument_group("setting overrides")
    for setting in SETTINGS:
        group.add_argument(
            flag_name(setting.dotted),
            dest=dest(setting.dotted),
            metavar=setting.name.upper(),
            default=None,
            help=f"{setting.dotted} (env {env_var_name(setting.dotted)})",
        )


def overrides_from_args(args: argparse.Namespace) -> dict[str, str]:
    found: dict[str, str] = {}
    for setting in SETTINGS:
        value = getattr(args, dest(setting.dotted), None)
        if value is not None:
            found[setting.dotted] = str(value)
    return found
