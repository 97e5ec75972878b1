"""CLI commands, one module each, attached to derive.cli.main at the end of derive/cli.py."""
