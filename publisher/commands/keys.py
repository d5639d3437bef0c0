"""``ibpub keys``: CURVE key pairs for the publisher and its subscribers, with ``zmq.auth``.

Layout under ``--out DIR``::

    DIR/server.key                   the server's public key: give it to every subscriber
    DIR/server.key_secret            the server's key pair (bus.curve_secret_key): private
    DIR/authorized/<client>.key      each client's public key (bus.curve_authorized_keys)
    DIR/clients/<client>.key_secret  each client's key pair: give it to that subscriber only

An existing server key pair is kept (so adding a client does not lock the others out); an
existing client of the same name is an error rather than overwritten. Secret files are created
readable by their owner only.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

import zmq.auth

from publisher.errors import IbpubError

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
SERVER_NAME: Final = "server"
AUTHORIZED_DIR: Final = "authorized"
CLIENTS_DIR: Final = "clients"
DEFAULT_CLIENT: Final = "client1"
_NAME: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")

DESCRIPTION: Final = """\
Generate CURVE key pairs: one for the publisher (server) and one per subscriber (client).
With the printed [bus] lines in its configuration, the publisher encrypts its PUB and snapshot
sockets and accepts only the clients whose public keys are in DIR/authorized."""

EPILOG: Final = """\
examples:
  ibpub keys --out keys                       server pair + one client, client1
  ibpub keys --out keys --client alice --client bob
  ibpub keys --out keys --clients 3           client1, client2, client3
  ibpub keys --out keys --client carol        add a client; the server pair is kept

exit codes: 0 keys written, 2 usage error (a bad name, an existing client), 1 anything else."""


class KeysError(IbpubError):
    """A request ``ibpub keys`` refuses (a bad or existing client name); exit status 2.

    ``problem`` says what is wrong; it is also the message.
    """

    problem: str

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class KeyFiles:
    """What :func:`generate_keys` wrote (or kept)."""

    server_public: Path
    server_secret: Path
    server_created: bool
    authorized_dir: Path
    clients: tuple[tuple[str, Path, Path], ...]
    """(name, public key in the authorised directory, secret key file) per new client."""


def client_names(names: Sequence[str], count: int | None) -> list[str]:
    """The client names asked for: ``names``, else ``client1..clientN``, else ``client1``."""
    if names and count is not None:
        raise KeysError("give --client NAME or --clients N, not both")
    chosen = list(names) if names else [f"client{i}" for i in range(1, (count or 1) + 1)]
    for name in chosen:
        if not _NAME.fullmatch(name) or name == SERVER_NAME:
            raise KeysError(
                f"bad client name {name!r}: use 1-64 of A-Z a-z 0-9 . _ - (and not 'server')"
            )
    if len(set(chosen)) != len(chosen):
        raise KeysError("a client name is given twice")
    return chosen


def generate_keys(out: Path, clients: Sequence[str]) -> KeyFiles:
    """Write the server pair (unless present) and one pair per client under ``out``."""
    authorized = out / AUTHORIZED_DIR
    secrets = out / CLIENTS_DIR
    server_public = out / f"{SERVER_NAME}.key"
    server_secret = out / f"{SERVER_NAME}.key_secret"
    for name in clients:
        for existing in (authorized / f"{name}.key", secrets / f"{name}.key_secret"):
            if existing.exists():
                raise KeysError(f"{existing} exists; pick another client name")
    for directory in (out, authorized, secrets):
        directory.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets, 0o700)
    server_created = not server_secret.exists()
    if server_created:
        _new_pair(out, SERVER_NAME, server_public, server_secret)
    written = []
    for name in clients:
        public, secret = authorized / f"{name}.key", secrets / f"{name}.key_secret"
        _new_pair(out, name, public, secret)
        written.append((name, public, secret))
    return KeyFiles(server_public, server_secret, server_created, authorized, tuple(written))


def _new_pair(out: Path, name: str, public: Path, secret: Path) -> None:
    # zmq.auth writes with the default umask; making the pair inside a private (0700) scratch
    # directory and moving it keeps the secret unreadable by others at every moment.
    scratch = Path(tempfile.mkdtemp(prefix=".keys-", dir=out))
    try:
        made_public, made_secret = zmq.auth.create_certificates(scratch, name)
        os.chmod(made_secret, 0o600)
        os.chmod(made_public, 0o644)
        os.replace(made_secret, secret)
        os.replace(made_public, public)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def describe(files: KeyFiles, out: TextIO) -> None:
    """Print what was written and the configuration lines that use it."""
    state = "created" if files.server_created else "kept (already there)"
    rows = [
        (str(files.server_public), f"server public key ({state}): give it to subscribers"),
        (str(files.server_secret), "server secret key: the publisher's alone"),
    ]
    for name, public, secret in files.clients:
        rows.append((str(public), f"client {name}'s public key: authorised by the publisher"))
        rows.append((str(secret), f"client {name}'s secret key: give it to {name} only"))
    width = max(len(path) for path, _ in rows)
    out.writelines(f"{path:<{width}}  {note}\n" for path, note in rows)
    out.write(
        "\nadd to the publisher's configuration (restart it to admit new clients):\n\n"
        "[bus]\n"
        f'curve_secret_key = "{files.server_secret.resolve()}"\n'
        f'curve_authorized_keys = "{files.authorized_dir.resolve()}"\n'
    )
    if files.clients:
        _, _, secret = files.clients[0]
        out.write(
            "\nsubscribe with:\n\n"
            f"  ibsub tail --curve-server-key {files.server_public} "
            f"--curve-client-key {secret}\n"
            "  (or set IBSUB_CURVE_SERVER_KEY and IBSUB_CURVE_CLIENT_KEY)\n"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``ibpub keys`` options."""
    parser.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    names = parser.add_mutually_exclusive_group()
    names.add_argument(
        "--client",
        dest="clients",
        action="append",
        default=[],
        metavar="NAME",
        help="a client key pair named NAME; repeat for several",
    )
    names.add_argument(
        "--clients",
        dest="client_count",
        type=int,
        metavar="N",
        help="N client key pairs named client1..clientN (default: one, client1)",
    )


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Generate the keys asked for by ``args``; returns the exit status."""
    try:
        if args.client_count is not None and args.client_count < 1:
            raise KeysError(f"--clients must be at least 1, not {args.client_count}")
        names = client_names(args.clients, args.client_count)
        files = generate_keys(Path(args.out), names)
    except KeysError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    describe(files, out)
    return EXIT_OK
