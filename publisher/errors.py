"""The ibpub exception hierarchy. Every error carries its data as attributes, not just a string.

::

    IbpubError                      base of everything ibpub raises on purpose
    ├── ConfigError                 a setting is missing, unknown, mistyped or invalid (exit 2)
    │                                 .file .key .problem
    ├── GatewayError                the gateway refused or failed something we asked of it
    │                                 .code .message
    └── ContractError               an instrument could not be resolved to one IB contract
                                      .key .problem

``ConfigError`` is the user's mistake (a file, an environment variable or a flag) and the CLI
turns it into exit code 2 with the message ``error: <file>: <key>: <problem>``. The others are
raised at run time, from what the gateway said.
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


class GatewayError(IbpubError):
    """The gateway reported an error; ``code`` is IB's error code when it gave one."""

    code: int | None
    message: str

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message if self.code is None else f"IB error {self.code}: {self.message}"


class ContractError(IbpubError):
    """An instrument could not be resolved to exactly one IB contract."""

    key: str
    problem: str

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(key, problem)
        self.key = key
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.key}: {self.problem}"
