"""The pure core: normalising, instruments, the tick path; no ibapi, zmq or prometheus_client."""
