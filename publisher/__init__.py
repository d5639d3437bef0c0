"""ibpub publisher: the IB gateway adapter service and the simulated gateway."""

__version__ = "0.1.0"
