"""The Telegram bot: command parsing, policies, rendering, charts and the service that runs it."""
