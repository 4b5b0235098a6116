"""Signing in, session files, and the Telegram commands of the CLI, against the sandbox."""

from __future__ import annotations

import builtins
import json
import stat
from pathlib import Path

import pytest

from monitor.telegram.sandbox import World
from tests.conftest import fill, run_cli


def answer_prompts(
    monkeypatch: pytest.MonkeyPatch, world: World, phone: str, code: str | None = None,
    password: str = "",
) -> None:  # fmt: skip
    monkeypatch.setattr("getpass.getpass", lambda prompt: password)

    def fake_input(prompt: str) -> str:
        if "Phone" in prompt:
            return phone
        return code if code is not None else world.login_codes[phone.lstrip("+")]

    monkeypatch.setattr(builtins, "input", fake_input)


def test_login_then_follow_a_channel(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = world.add_channel("Два майора", "two_majors")
    fill(world, channel, 150)
    answer_prompts(monkeypatch, world, world.account.phone or "")
    code, out, err = run_cli(world, "login")
    assert code == 0, err
    assert "Signed in as Analyst" in out
    assert (world.account.phone or "") not in out + err  # a phone number is a secret
    session = env / "user.session"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600

    code, out, err = run_cli(world, "channels", "add", "https://t.me/two_majors/7", "--days", "0")
    assert code == 0, err
    assert "Following @two_majors" in out and "150 posts stored" in out
    code, out, _ = run_cli(world, "stats", "--json")
    [row] = json.loads(out)["channels"]
    assert row["posts"] == 150 and row["health"]["state"] == "ok"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600

    code, out, err = run_cli(world, "channels", "add", "@two_majors", "@nobody_here_at_all")
    assert code == 1
    assert (
        "@two_majors is already followed" in err
        and "No channel is called @nobody_here_at_all" in err
    )
    code, out, _ = run_cli(world, "channels", "remove", "@two_majors")
    assert code == 0 and "archive is kept" in out


@pytest.mark.parametrize(("given", "works"), [("correct horse", True), ("wrong horse", False)])
def test_two_step_password(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch, given: str, works: bool
) -> None:
    world.account.password = "correct horse"
    answer_prompts(monkeypatch, world, world.account.phone or "", password=given)
    code, out, err = run_cli(world, "login")
    if works:
        assert code == 0 and "Signed in as Analyst" in out, err
    else:
        assert code == 1 and "the two-step password was wrong" in err
    assert given not in out + err


def test_wrong_code_is_one_sentence(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer_prompts(monkeypatch, world, world.account.phone or "", code="00000")
    code, _, err = run_cli(world, "login")
    assert code == 1
    assert "sign-in failed" in err and "Traceback" not in err


def test_the_bot_signs_in_with_its_token(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_BOT_TOKEN", world.bot_token)
    code, out, err = run_cli(world, "login", "--bot")
    assert code == 0, err
    assert "Signed in as @monitor_test_bot" in out
    assert world.bot_token not in out + err
    assert stat.S_IMODE((env / "bot.session").stat().st_mode) == 0o600
    assert not (env / "user.session").exists() or (env / "user.session").stat().st_size == 0


@pytest.mark.parametrize(
    "command", [["run"], ["channels", "add", "@x_channel"], ["channels", "remove", "@x_channel"]]
)
def test_commands_needing_telegram_refuse_without_a_session(
    env: Path, world: World, command: list[str]
) -> None:
    code, _out, err = run_cli(world, *command)
    assert code == 1
    assert "not signed in; run `python bot.py login` first" in err


def test_missing_api_credentials_are_named(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TG_API_ID")
    code, _, err = run_cli(world, "run")
    assert code == 1 and "TG_API_ID and TG_API_HASH are not set" in err


def test_a_session_string_from_the_settings_is_used(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.telegram.sandbox import signed_in_session

    world.add_channel("Канал", "string_chan")
    monkeypatch.setenv("TG_SESSION", signed_in_session(world))
    code, _out, err = run_cli(world, "channels", "add", "@string_chan")
    assert code == 0, err
    assert not (env / "user.session").exists()


def test_one_session_is_never_used_by_two_processes(env: Path, world: World) -> None:
    from monitor.config import load_settings
    from monitor.telegram.session import exclusive

    with exclusive(load_settings(), "user"):
        code, _, err = run_cli(world, "run")
    assert code == 1 and "in use by another running process" in err


def test_run_follows_until_sigterm_and_stops_cleanly(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    from monitor.telegram.sandbox import signed_in_session

    channel = world.add_channel("Канал", "run_chan")
    monkeypatch.setenv("TG_SESSION", signed_in_session(world))
    assert run_cli(world, "channels", "add", "@run_chan")[0] == 0
    fill(world, channel, 350)
    pages = 0

    def stop_after_two_pages(name: str) -> None:
        nonlocal pages
        pages += name == "GetHistoryRequest"
        if pages == 2:
            signal.raise_signal(signal.SIGTERM)

    world.on_request = stop_after_two_pages
    code, out, err = run_cli(world, "run")
    assert code == 0, err
    assert "Following 1 channel(s)" in out and out.rstrip().endswith("Stopped.")
    code, out, _ = run_cli(world, "stats", "--json")
    stored = json.loads(out)["channels"][0]["posts"]
    assert 100 <= stored <= 350
    world.on_request = None
    assert run_cli(world, "verify")[0] == 0


def test_run_starts_the_bot_with_its_token_and_stops_it_cleanly(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    from monitor.telegram.sandbox import signed_in_session

    channel = world.add_channel("Канал", "bot_run_chan")
    monkeypatch.setenv("TG_SESSION", signed_in_session(world))
    monkeypatch.setenv("TG_BOT_TOKEN", world.bot_token)
    assert run_cli(world, "channels", "add", "@bot_run_chan")[0] == 0
    fill(world, channel, 350)
    pages = 0

    def stop_after_two_pages(name: str) -> None:
        nonlocal pages
        pages += name == "GetHistoryRequest"
        if pages == 2:
            signal.raise_signal(signal.SIGTERM)

    world.on_request = stop_after_two_pages
    code, out, err = run_cli(world, "run")
    world.on_request = None
    assert code == 0, err
    assert "Following 1 channel(s) and the bot." in out and out.rstrip().endswith("Stopped.")
    assert world.bot_token not in out + err
    assert stat.S_IMODE((env / "bot.session").stat().st_mode) == 0o600
