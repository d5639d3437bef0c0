"""The composition root and its event loop."""
