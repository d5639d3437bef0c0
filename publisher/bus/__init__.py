"""The bus side: the PUB socket, the last-value snapshot server, CURVE."""
