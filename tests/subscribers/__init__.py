"""Tests of the subscriber side: wire decoding, the client library and the ibsub CLI."""
