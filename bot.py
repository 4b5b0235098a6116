"""Entry point: `python bot.py <command>`. Everything else lives in the monitor package."""

import sys

if __name__ == "__main__":
    # Imported here, not above: worker processes (started by spawn) run this file's top level
    # again, and they need none of the command line, whose imports take a second or more.
    from monitor.cli import main

    sys.exit(main())
