"""Processors: the run loops (train, test, extract, demo) behind main.py's subcommands."""
