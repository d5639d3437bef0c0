"""ibpub subscribers: a client library for the ibpub bus and sample CLIs."""
