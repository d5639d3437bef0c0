"""Creating or updating the JetStream stream from the configuration, idempotently.

A stream that does not exist is created; one that exists with the bridge's subjects is updated
to the configured limits (age, bytes, replicas, duplicate window; file storage). A stream of
that name with other subjects, or a configuration JetStream refuses, is a
:class:`~publisher.errors.ConfigError` naming ``nats.stream`` (exit 2 at start).
"""

from typing import Final

from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

from publisher.bridge.copier import SUBJECT_ROOT
from publisher.bridge.settings import NatsSettings
from publisher.errors import ConfigError

__all__ = ["STREAM_SUBJECTS", "ensure_stream", "stream_config"]

STREAM_SUBJECTS: Final = [f"{SUBJECT_ROOT}.>"]


def stream_config(nats: NatsSettings) -> StreamConfig:
    return StreamConfig(
        name=nats.stream,
        subjects=list(STREAM_SUBJECTS),
        storage=StorageType.FILE,
        num_replicas=nats.replicas,
        max_age=nats.max_age,
        max_bytes=nats.max_bytes,
        duplicate_window=nats.duplicate_window,
    )


async def ensure_stream(js: JetStreamContext, nats: NatsSettings, source: str) -> str:
    """Create or update the stream; returns ``"created"`` or ``"updated"``."""
    config = stream_config(nats)
    try:
        info = await js.stream_info(nats.stream)
    except NotFoundError:
        try:
            await js.add_stream(config)
        except APIError as exc:
            raise ConfigError(
                source, "nats.stream", f"JetStream refused it: {exc.description}"
            ) from None
        return "created"
    subjects = list(info.config.subjects or [])
    if subjects != STREAM_SUBJECTS:
        problem = (
            f"stream {nats.stream!r} exists with subjects {subjects}, not {STREAM_SUBJECTS}: "
            "name another stream"
        )
        raise ConfigError(source, "nats.stream", problem)
    try:
        await js.update_stream(config)
    except APIError as exc:
        raise ConfigError(
            source, "nats.stream", f"JetStream refused it: {exc.description}"
        ) from None
    return "updated"
