"""`python -m bot`: the same command line as the installed `bpu-bot` (bot/cli/main.py)."""

import sys

from bot.cli.main import main

sys.exit(main())
