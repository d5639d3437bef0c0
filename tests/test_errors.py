"""The exception tree drawn in ``publisher/errors.py`` is the one the code defines."""

import importlib
import inspect
import pkgutil

import publisher
import publisher.errors
from publisher.errors import IbpubError

OUTSIDE_THE_TREE = {"publisher.config.convert._NotOfTypeError"}
"""Documented in publisher/errors.py: private control flow that never leaves its module."""


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a publisher module, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(publisher.__path__, "publisher."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == info.name:
                found[f"{info.name}.{cls.__qualname__}"] = cls
    return found


def test_every_publisher_error_is_an_ibpub_error() -> None:
    """Each exception class in publisher/ derives from IbpubError, or is a documented exception."""
    classes = exception_classes()
    assert len(classes) > 10  # the walk found the modules
    outside = {name for name, cls in classes.items() if not issubclass(cls, IbpubError)}
    assert outside == OUTSIDE_THE_TREE


def test_the_docstring_draws_every_error() -> None:
    """Every exception class appears by name in the tree in errors.py's docstring."""
    doc = publisher.errors.__doc__ or ""
    missing = {name for name in exception_classes() if name.rpartition(".")[2] not in doc}
    assert missing == set()


def test_the_gateway_errors_share_their_base() -> None:
    """What ends one gateway connection is a GatewayError, as the tree draws it."""
    from publisher.errors import GatewayError
    from publisher.gateway.client import FrameDecodeError, GatewayClosedError
    from publisher.gateway.framing import FramingError

    for cls in (GatewayClosedError, FrameDecodeError, FramingError):
        assert issubclass(cls, GatewayError)
