"""The ibpub subcommands beyond run: demo, keys, check-config."""
