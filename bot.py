"""Entry point: `python bot.py <command>`. Everything else lives in the monitor package."""

import sys

from monitor.cli import main

if __name__ == "__main__":
    sys.exit(main())
