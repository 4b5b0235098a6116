"""`python -m bench [--posts N]`: see bench.run."""

if __name__ == "__main__":
    # Imported here, as bot.py does, so that worker processes (started by spawn, which runs
    # this module again) pay what they pay under bot.py, not for the benchmark's imports.
    from bench.run import main

    main()
