"""The ibpub exception hierarchy. Every error carries its data as attributes, not just a string.

The bases live here; each concrete error lives beside the code that raises it (shown on the
right), so a module's failure modes read with the module::

    IbpubError                      base of everything ibpub raises on purpose
    ├── ConfigError                 a setting is missing, unknown, mistyped or invalid (exit 2)
    │                                 .file .key .problem                   here
    ├── EndpointError               an endpoint or host:port that does not parse (raised by
    │                                 .text .problem                        publisher.endpoints)
    ├── GatewayError                the gateway connection cannot carry on as it is: the base
    │   ├── GatewayClosedError        the socket closed or failed; str() is the reason
    │   │                                                                   gateway/client.py
    │   ├── FrameDecodeError          ibapi's decoder raised on one frame (the framing is intact)
    │   │                                 .msg_id .payload .cause           gateway/client.py
    │   └── FramingError              the byte stream cannot be split into frames any more
    │                                     .length .head                     gateway/framing.py
    ├── RequestError (ValueError)   a snapshot request the server cannot answer; str() goes
    │                               back to the client                      bus/snapshot.py
    ├── KeysError                   ``ibpub keys`` refuses a request (exit 2)
    │                                 .problem                              commands/keys.py
    │   the simulated gateway (publisher.sim, a program of its own):
    ├── ProtocolError               the peer broke the TWS protocol; the session closes
    │   ├── FrameTooLargeError        .size .limit                          sim/protocol/errors.py
    │   ├── BadHandshakeError         .data .reason                         sim/protocol/errors.py
    │   ├── VersionMismatchError      .client_min .client_max .server_min .server_max
    │   └── MalformedRequestError     .msg_id .reason (the session carries on)
    ├── ScenarioError (ValueError)  a ``--scenario`` step that does not parse
    │                                                                       sim/scenario.py
    ├── CatalogueError (ValueError) a catalogue file that cannot be used
    │                                 .path .key .problem                   sim/catalogue/files.py
    ├── ReplayError                 ``--replay`` cannot serve the recording (exit 2)
    │                                 .path .problem                        sim/replay/recording.py
    │   the recording proxy (``ibpub tap``):
    └── TapFormatError (ValueError) bytes that are not a whole tap file; str() says where
                                                                            tap/fileformat.py

``ConfigError`` is the user's mistake (a file, an environment variable or a flag) and the CLI
turns it into exit code 2 with the message ``error: <file>: <key>: <problem>``. ``EndpointError``
is raised by the pure parsers, which know the text but not where it came from: a caller that
knows (a configuration key, a flag) reports it as a ``ConfigError`` naming that. The gateway errors
are raised at run time and end one connection, which the service then reconnects. The ones
marked ``(ValueError)`` are also ``ValueError``\\ s, as they were before this tree: a bad value.

Outside the tree, on purpose:

* the subscriber library's errors (``subscribers.wire.WireError``,
  ``subscribers.curve.CurveKeyError``, ``subscribers.snapshot.SnapshotError``): ``subscribers``
  may not import ``publisher`` (an import-linter contract), so they cannot derive from
  :class:`IbpubError`;
* ``publisher.config.convert._NotOfTypeError``: private control flow inside the config loader,
  always caught there and turned into a ``ConfigError``; it never leaves the module.

There is no "contract not found" error: an instrument IB cannot resolve is a ``failed``
instrument status on the bus (the contract's ``status`` message), not an exception.
"""

from __future__ import annotations


class IbpubError(Exception):
    """Base class of every error ibpub raises on purpose."""


class ConfigError(IbpubError):
    """A configuration value is unusable.

    ``file`` is the configuration file's path, or ``"environment"`` for an ``IBPUB_*``
    variable, or ``"command line"`` for a flag. ``key`` locates the value: ``gateway.port``,
    ``instruments[2].sec_type``, ``IBPUB_GATEWAY_PORT``, ``--gateway-port``, ``line 3, column 7``
    for a TOML syntax error, or ``-`` for the file as a whole. ``problem`` says what is wrong.
    """

    file: str
    key: str
    problem: str

    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(file, key, problem)
        self.file = file
        self.key = key
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.problem}"


class EndpointError(IbpubError):
    """``text`` is not an endpoint (``tcp://host:port``, ``ipc://path``) or ``host:port`` that
    ibpub can use; ``problem`` says why, naming the text (:mod:`publisher.endpoints`)."""

    text: str
    problem: str

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(text, problem)
        self.text = text
        self.problem = problem

    def __str__(self) -> str:
        return self.problem


class GatewayError(IbpubError):
    """Base of the errors that end one connection to the gateway (the service reconnects)."""
