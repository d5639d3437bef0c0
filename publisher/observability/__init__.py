"""Observability: metrics, the latency histogram, the HTTP endpoints."""
