"""Resilience: the connection machine, pacing, and every gateway fault on real sockets."""
