"""Telegram sessions: one per client (the user account, the bot), each its own SQLite file
under the data folder, readable by its owner only, never opened by two processes at once.
A session string from the settings (TG_SESSION) replaces the user account's file on servers."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from telethon import TelegramClient, errors
from telethon.sessions import StringSession

from monitor.config import Settings
from monitor.files import private_file

Kind = Literal["user", "bot"]
ClientFactory = Callable[..., TelegramClient]
Ask = Callable[[str], str]


class SessionError(Exception):
    """The session cannot be used; the message says what to do, in one sentence."""


def session_file(settings: Settings, kind: Kind) -> Path:
    return settings.data_dir / f"{kind}.session"


@contextmanager
def exclusive(settings: Settings, kind: Kind) -> Iterator[None]:
    """Hold the session for this process; a second process gets a clear refusal."""
    lock_path = session_file(settings, kind).with_suffix(".lock")
    private_file(lock_path)
    with lock_path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SessionError(
                f"the {kind} session is in use by another running process; stop it first"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def make_client(
    settings: Settings, kind: Kind, factory: ClientFactory = TelegramClient, **options: Any
) -> TelegramClient:
    if settings.api_id is None or settings.api_hash is None:
        raise SessionError(
            "TG_API_ID and TG_API_HASH are not set; get them at my.telegram.org and put them in .env"
        )
    session: Any
    if kind == "user" and settings.session_string:
        try:
            session = StringSession(settings.session_string)
        except ValueError:
            raise SessionError("TG_SESSION is not a valid Telethon session string") from None
    else:
        path = session_file(settings, kind)
        private_file(path)
        session = str(path)
    # Flood waits are handled by our own pacing, which knows which requests can wait.
    return factory(session, settings.api_id, settings.api_hash, flood_sleep_threshold=0, **options)


def secure_session_files(settings: Settings) -> None:
    """Telethon may recreate its files; keep them owner-only after every use."""
    for kind in ("user", "bot"):
        for path in session_file(settings, kind).parent.glob(f"{kind}.session*"):
            os.chmod(path, 0o600)


async def require_login(client: TelegramClient, kind: Kind) -> None:
    """Connect and check the session; a service never prompts, it says what to run."""
    await client.connect()
    if not await client.is_user_authorized():
        await client.disconnect()
        command = "python bot.py login" + (" --bot" if kind == "bot" else "")
        raise SessionError(f"the {kind} account is not signed in; run `{command}` first")


async def login_user(client: TelegramClient, ask: Ask, ask_secret: Ask) -> str:
    """Sign the user account in interactively: phone, code, and two-step password if set."""
    try:
        await client.start(
            phone=lambda: ask("Phone number (international format): "),
            code_callback=lambda: ask("Login code Telegram sent you: "),
            password=lambda: ask_secret("Two-step verification password: "),
            max_attempts=3,
        )
    except (errors.PhoneNumberInvalidError, errors.PhoneCodeInvalidError,
            errors.PasswordHashInvalidError, errors.PhoneCodeExpiredError) as error:  # fmt: skip
        raise SessionError(f"sign-in failed: {_sentence(error)}") from None
    except RuntimeError as error:  # Telethon's "too many attempts"
        raise SessionError(f"sign-in failed: {error}") from None
    me = await client.get_me()
    return _display_name(me)


async def login_bot(client: TelegramClient, token: str | None) -> str:
    if not token:
        raise SessionError(
            "TG_BOT_TOKEN is not set; get a token from @BotFather and put it in .env"
        )
    try:
        await client.start(bot_token=token)
    except errors.AccessTokenInvalidError:
        raise SessionError("Telegram refused TG_BOT_TOKEN; check it with @BotFather") from None
    me = await client.get_me()
    return _display_name(me)


def _display_name(me: Any) -> str:
    # Names only: the phone number is a secret and never printed.
    return f"@{me.username}" if getattr(me, "username", None) else str(me.first_name or me.id)


def _sentence(error: Exception) -> str:
    messages = {
        errors.PhoneNumberInvalidError: "Telegram does not know that phone number",
        errors.PhoneCodeInvalidError: "the code was wrong",
        errors.PhoneCodeExpiredError: "the code expired; run login again",
        errors.PasswordHashInvalidError: "the two-step password was wrong",
    }
    return next((text for cls, text in messages.items() if isinstance(error, cls)), str(error))
