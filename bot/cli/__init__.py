"""The command line: `bpu-bot` and its command groups, one module each, and what they share (common.py)."""
