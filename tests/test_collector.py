"""The collector against the simulated Telegram: backfill, restart, downtime, dropped updates,
flood waits, failing channels, every channel reference and error, sweeps and metrics."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.clock import ManualClock
from monitor.health import channel_health
from monitor.scheduler import startup_job, sweep_job
from monitor.store import Store
from monitor.telegram.collector import ChannelError, Collector
from monitor.telegram.pacing import MAX_INTERVAL, RECOVERY, WIDENING, Pacer
from monitor.telegram.sandbox import SandboxClient, World, signed_in_session
from monitor.text import TextPipeline
from tests.conftest import connect_client, fill, make_collector, run_cli, stored_view, world_view


async def test_backfill_reads_all_history_over_many_pages_oldest_first(
    world: World, collector: Collector, store: Store
) -> None:
    channel = world.add_channel("Два майора", "two_majors")
    fill(world, channel, 1250)
    added = await collector.add("@two_majors")
    read = await collector.backfill(added.channel)
    assert read == 1250
    assert await stored_view(store, channel.id) == {
        i: (t, False) for i, t in world_view(world, channel.id).items()
    }
    assert world.requests.count("GetHistoryRequest") >= 13
    stored = await store.channel(channel.id)
    assert stored is not None
    assert (stored.high_water, stored.backfill_state, stored.active) == (1250, "done", True)
    assert await store.verify_channel(channel.id, "@two_majors") is None


async def test_backfill_depth_is_respected(
    world: World, collector: Collector, store: Store
) -> None:
    channel = world.add_channel("Рыбарь", "rybar")
    fill(world, channel, 24 * 60, every=timedelta(hours=1))  # 60 days, hourly
    added_at = world.clock.now()
    added = await collector.add("rybar", days=30)
    assert added.channel.backfill_since == added_at - timedelta(days=30)
    await collector.backfill(added.channel)
    dates = [r["date"] async for r in store.export_posts()]
    assert len(dates) == 24 * 30
    assert min(dates) == (added_at - timedelta(days=30)).isoformat()


async def test_restart_in_the_middle_of_a_backfill_loses_and_doubles_nothing(
    world: World, tg: SandboxClient, store: Store, pipeline: TextPipeline, manual_clock: ManualClock
) -> None:
    channel = world.add_channel("Канал", "chan_one")
    fill(world, channel, 1000)
    first = make_collector(tg, store, pipeline, manual_clock)
    added = await first.add("@chan_one")
    pages = 0

    def crash_after_four_pages(name: str) -> None:
        nonlocal pages
        if name == "GetHistoryRequest":
            pages += 1
            if pages == 5:
                world.cut_network()

    world.on_request = crash_after_four_pages
    with pytest.raises(ConnectionError):
        await first.backfill(added.channel)
    partial = await store.post_count()
    assert 0 < partial < 1000
    stored = await store.channel(channel.id)
    assert stored is not None and stored.high_water == partial  # the mark covers what is stored

    world.on_request = None
    world.restore_network()
    restarted = await connect_client(world)
    try:
        second = make_collector(restarted, store, pipeline, manual_clock)
        await second.catch_up()
    finally:
        await restarted.disconnect()
    assert await store.post_count() == 1000
    assert await store.revision_count() == 1000
    assert await store.verify_channel(channel.id, "@chan_one") is None


async def test_two_hours_down_while_twenty_channels_post_edit_and_delete(
    world: World, tg: SandboxClient, store: Store, pipeline: TextPipeline, manual_clock: ManualClock
) -> None:
    channels = [world.add_channel(f"Канал {n}", f"channel_{n:02d}") for n in range(20)]
    for channel in channels:
        fill(world, channel, 30)
    collector = make_collector(tg, store, pipeline, manual_clock)
    for channel in channels:
        await collector.backfill((await collector.add(f"@{channel.username}")).channel)
    await tg.disconnect()  # the process is down

    for minute in range(0, 120, 3):
        manual_clock.advance(180)
        for n, channel in enumerate(channels):
            if (minute + n) % 2 == 0:
                world.post(channel, f"Пока нас не было: новость {minute} в канале {n}")
            if minute % 30 == n % 30:
                world.edit(channel, 5 + minute // 30, f"исправлено в минуту {minute}")
            if minute == 60:
                world.delete(channel, [10, 11])

    back = await connect_client(world)
    try:
        collector = make_collector(back, store, pipeline, manual_clock)
        await collector.catch_up()
        await collector.sweep_deletions()
    finally:
        await back.disconnect()
    for channel in channels:
        archive = await stored_view(store, channel.id)
        alive = {i: (text, False) for i, text in world_view(world, channel.id).items()}
        assert {i: v for i, v in archive.items() if not v[1]} == alive
        assert {i for i, (_, deleted) in archive.items() if deleted} == {10, 11}
        assert await store.verify_channel(channel.id, channel.title) is None


async def test_dropped_updates_are_recovered_by_catch_up(
    world: World, tg: SandboxClient, collector: Collector, store: Store
) -> None:
    channels = [world.add_channel(f"Канал {n}", f"dropper_{n}") for n in range(3)]
    for channel in channels:
        await collector.add(f"@{channel.username}")
    await collector.catch_up()
    collector.install_handlers()
    world.drop_rate = 0.3
    for i in range(300):
        world.post(channels[i % 3], f"живой пост {i}")
        if i % 10 == 0:
            await tg.settle()
    await tg.settle()
    assert world.dropped_updates > 50
    assert 0 < collector.live_stored < 300
    await collector.catch_up()
    assert await store.post_count() == 300


async def test_live_edits_reactions_deletions_and_albums(
    world: World, tg: SandboxClient, collector: Collector, store: Store
) -> None:
    channel = world.add_channel("Канал", "live_chan")
    await collector.add("@live_chan")
    collector.install_handlers()
    world.post(channel, "Первый вариант")
    album = world.album(channel, ["фото 1", "фото 2", "фото 3"])
    await tg.settle()
    world.edit(channel, 1, reactions={"🔥": 12})  # reaction-only: no new revision
    world.edit(channel, 1, "Второй вариант")
    world.delete(channel, [album[1].id])
    await tg.settle()
    records = {r["message_id"]: r async for r in store.export_posts(with_revisions=True)}
    assert [r["text"] for r in records[1]["revisions"]] == ["Первый вариант", "Второй вариант"]
    assert records[1]["reactions_detail"] == {"🔥": 12}
    assert {records[m.id]["grouped_id"] for m in album} == {album[0].grouped_id}
    assert records[album[1].id]["deleted_at"] is not None
    assert records[album[1].id]["text"] == "фото 2"  # the text stays
    assert {records[m.id]["media_type"] for m in album} == {"photo"}


async def test_flood_waits_are_honoured_and_never_provoke_a_longer_one(
    world: World, tg: SandboxClient, store: Store, pipeline: TextPipeline, manual_clock: ManualClock
) -> None:
    world.policy.per_second["GetHistoryRequest"] = 0.2  # one page every five seconds
    channel = world.add_channel("Канал", "flooded")
    fill(world, channel, 1000)
    pacer = Pacer(manual_clock, {"history": 0.0, "join": 0, "resolve": 0})  # far too fast
    collector = make_collector(tg, store, pipeline, manual_clock, pacer=pacer)
    added = await collector.add("@flooded")
    assert await collector.backfill(added.channel) == 1000
    assert pacer.flood_waits, "the sandbox should have answered FLOOD_WAIT"
    # Every wait was sat out in full: Telegram never had to double one.
    announced = [s for name, s in world.policy.flood_waits if name == "GetHistoryRequest"]
    assert announced == [s for _, s in pacer.flood_waits]
    assert all(seconds <= 5 for seconds in announced)


async def test_the_longer_of_two_flood_waits_wins(manual_clock: ManualClock) -> None:
    pacer = Pacer(manual_clock, {"history": 0})
    pacer.flood("history", 30)
    pacer.flood("history", 5)
    start = manual_clock.now()
    await pacer.wait("history")
    assert manual_clock.now() - start == timedelta(seconds=30)


async def test_a_flood_wait_widens_the_interval_until_answered_requests_narrow_it_back(
    manual_clock: ManualClock,
) -> None:
    pacer = Pacer(manual_clock, {"history": 0.2})

    async def answered() -> str:
        return "page"

    pacer.flood("history", 1)
    assert pacer.interval("history") == pytest.approx(0.25)
    await pacer.call("history", answered)  # sits out the flood wait
    gaps = []
    for _ in range(40):
        manual_clock.slept.clear()
        await pacer.call("history", answered)
        gaps.append(sum(manual_clock.slept))
    assert gaps[:2] == pytest.approx([0.25, 0.25 * RECOVERY])
    assert gaps == sorted(gaps, reverse=True), "each answered request narrows the interval"
    back = gaps.index(0.2)
    assert 15 < back < 30, f"back at the configured interval after {back} requests"
    assert gaps[back:] == [0.2] * (40 - back)


async def test_flood_waits_compound_up_to_a_cap_and_a_configured_interval_stays(
    manual_clock: ManualClock,
) -> None:
    pacer = Pacer(manual_clock, {"history": 1.0, "resolve": 5.0})
    pacer.flood("history", 1)
    pacer.flood("history", 1)
    assert pacer.interval("history") == pytest.approx(1.0 * WIDENING**2)
    for _ in range(40):
        pacer.flood("history", 1)
    assert pacer.interval("history") == MAX_INTERVAL
    assert pacer.interval("resolve") == 5.0  # other request types are not slowed
    for _ in range(1000):
        pacer.answered("history")
    assert pacer.interval("history") == 1.0
    assert pacer.intervals == {"history": 1.0, "resolve": 5.0}


async def test_one_failing_channel_leaves_the_others_running(
    world: World, collector: Collector, store: Store, manual_clock: ManualClock
) -> None:
    healthy, private, deleted = (world.add_channel(f"Канал {n}", f"chan_{n}") for n in "abc")
    for channel in (healthy, private, deleted):
        fill(world, channel, 10)
        await collector.add(f"@{channel.username}")
    world.make_private(private)
    world.delete_channel(deleted)
    await collector.catch_up()
    assert len(await stored_view(store, healthy.id)) == 10
    states = {c.id: (c.state, c.last_error) for c in await store.channels()}
    assert states[healthy.id] == ("ok", None)
    assert states[private.id][0] == "inaccessible" and "private" in str(states[private.id][1])
    assert states[deleted.id][0] == "gone"
    # Access comes back: the next pass reads it and the state clears.
    world.channels[private.id].private = False
    await collector.catch_up()
    assert len(await stored_view(store, private.id)) == 10
    assert (await store.channel(private.id)).state == "ok"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "ref",
    ["@fighterbomber", "fighterbomber", "t.me/fighterbomber", "https://t.me/fighterbomber/123",
     "https://t.me/s/fighterbomber", "HTTPS://T.ME/FighterBomber"],
)  # fmt: skip
async def test_every_reference_form(
    world: World, collector: Collector, store: Store, ref: str
) -> None:
    channel = world.add_channel("Fighterbomber", "fighterbomber")
    added = await collector.add(ref)
    assert added.channel.id == channel.id
    assert added.channel.access_hash == channel.access_hash
    assert world.account.id in channel.members


async def test_numeric_ids_work_once_the_channel_is_known(
    world: World, collector: Collector
) -> None:
    channel = world.add_channel("Канал", "known_chan")
    await collector.add("@known_chan")
    await collector.remove(str(channel.id))
    resolves = world.requests.count("ResolveUsernameRequest")
    added = await collector.add(str(channel.id))
    assert added.rejoined and added.channel.id == channel.id
    assert world.requests.count("ResolveUsernameRequest") == resolves  # stored hash reused
    with pytest.raises(ChannelError, match="unknown to this account"):
        await collector.add("123456789")


@pytest.mark.parametrize(
    ("setup", "ref", "message"),
    [
        (lambda w: None, "@nobody_at_all", "No channel is called @nobody_at_all"),
        (
            lambda w: w.add_user("Иван", username="ivan_user"),
            "@ivan_user",
            "is a user, not a channel",
        ),
        (lambda w: None, "@monitor_test_bot", "is a bot, not a channel"),
        (
            lambda w: w.add_channel("Чат", "some_group", megagroup=True),
            "@some_group",
            "is a group, not a channel",
        ),
        (
            lambda w: w.make_private(w.add_channel("Закрытый", "closed_chan")),
            "@closed_chan",
            "is private",
        ),
        (lambda w: None, "https://t.me/+AbCdEf", "invite link"),
        (lambda w: None, "not a channel!", "is not a channel"),
    ],
)
async def test_add_errors_store_nothing(
    world: World,
    collector: Collector,
    store: Store,
    setup,
    ref: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    setup(world)
    with pytest.raises(ChannelError, match=message):
        await collector.add(ref)
    assert await store.following() == []
    assert await store.channels() == []


async def test_already_followed_and_the_channel_limit(
    world: World, collector: Collector, store: Store
) -> None:
    world.add_channel("Первый", "first_chan")
    world.add_channel("Второй", "second_chan")
    await collector.add("@first_chan")
    with pytest.raises(ChannelError, match="already followed"):
        await collector.add("t.me/first_chan")
    world.channel_limit = 1
    with pytest.raises(ChannelError, match=r"500 channels.*second account"):
        await collector.add("@second_chan")
    assert [c.username for c in await store.following()] == ["first_chan"]


async def test_a_channel_the_account_already_joined_is_followed(
    world: World, collector: Collector, store: Store
) -> None:
    channel = world.add_channel("Канал", "joined_before")
    fill(world, channel, 5)
    channel.members.add(world.account.id)  # joined in the app, or by an earlier run
    added = await collector.add("@joined_before")
    assert "JoinChannelRequest" in world.requests  # Telegram said USER_ALREADY_PARTICIPANT
    assert await collector.backfill(added.channel) == 5
    assert [c.username for c in await store.following()] == ["joined_before"]


def test_channels_add_follows_a_channel_the_account_already_joined(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = world.add_channel("Канал", "joined_before")
    fill(world, channel, 5)
    channel.members.add(world.account.id)
    monkeypatch.setenv("TG_SESSION", signed_in_session(world))
    code, out, err = run_cli(world, "channels", "add", "@joined_before")
    assert (code, err) == (0, "")
    assert "Following @joined_before" in out and "@joined_before: 5 posts stored." in out


async def test_remove_stops_following_and_keeps_the_archive(
    world: World, collector: Collector, store: Store
) -> None:
    channel = world.add_channel("Канал", "leaving")
    fill(world, channel, 5)
    await collector.backfill((await collector.add("@leaving")).channel)
    removed = await collector.remove("https://t.me/leaving")
    assert removed.id == channel.id
    assert world.account.id not in channel.members
    assert await store.following() == []
    assert await store.post_count() == 5
    with pytest.raises(ChannelError, match="is not followed"):
        await collector.remove("@leaving")


async def test_sweep_marks_deletions_by_id_not_position(
    world: World, collector: Collector, store: Store, manual_clock: ManualClock
) -> None:
    channel = world.add_channel("Канал", "sweeper")
    fill(world, channel, 250, every=timedelta(minutes=30))
    await collector.backfill((await collector.add("@sweeper")).channel)
    gone = {3, 50, 101, 199, 200, 249}
    world.drop_rate = 1.0  # the deletions never arrive live
    world.delete(channel, gone)
    deleted = await collector.sweep_deletions()
    assert deleted == len(gone)
    archive = await stored_view(store, channel.id)
    assert {i for i, (_, d) in archive.items() if d} == gone
    assert len(archive) == 250
    assert await collector.sweep_deletions() == 0  # nothing twice


async def test_at_start_every_channel_not_swept_for_an_interval_is_swept(
    world: World, tg: SandboxClient, store: Store, pipeline: TextPipeline, manual_clock: ManualClock
) -> None:
    channel = world.add_channel("Канал", "swept_at_start")
    fill(world, channel, 20)
    collector = make_collector(tg, store, pipeline, manual_clock)
    await collector.backfill((await collector.add("@swept_at_start")).channel)
    await sweep_job(collector)  # the last hourly sweep before the process stops
    last_sweep = (await store.channel(channel.id)).last_swept_at  # type: ignore[union-attr]
    assert last_sweep is not None
    await tg.disconnect()

    async def start_again() -> None:
        back = await connect_client(world)
        try:
            await startup_job(make_collector(back, store, pipeline, manual_clock))
        finally:
            await back.disconnect()

    # Deleted while `run` was down: no update reaches anyone, only a sweep finds it.
    manual_clock.advance(10 * 60)
    world.delete(channel, [3])
    checks = world.requests.count("GetMessagesRequest")
    await start_again()  # swept ten minutes ago: the hourly sweep is not due yet
    assert world.requests.count("GetMessagesRequest") == checks
    assert (await store.channel(channel.id)).last_swept_at == last_sweep  # type: ignore[union-attr]

    manual_clock.advance(2 * 3600)
    world.delete(channel, [7])
    restarted = manual_clock.now().replace(microsecond=0)
    await start_again()
    archive = await stored_view(store, channel.id)
    assert {i for i, (_, deleted) in archive.items() if deleted} == {3, 7}
    swept = await store.channel(channel.id)
    assert swept is not None and swept.last_swept_at is not None
    assert restarted <= swept.last_swept_at <= manual_clock.now()


async def test_metrics_are_snapshotted_at_growing_intervals(
    world: World, collector: Collector, store: Store, manual_clock: ManualClock
) -> None:
    channel = world.add_channel("Канал", "metrics_chan")
    await collector.add("@metrics_chan")
    message = world.post(channel, "пост", views=10)
    await collector.catch_up()
    assert await collector.snapshot_metrics() == 0  # too young
    for hours, views, expected_rows in (
        (1, 100, 1),
        (2, 150, 1),
        (6, 400, 2),
        (24, 900, 3),
        (72, 1500, 4),
        (100, 1600, 4),
    ):
        manual_clock.advance(
            (message.date + timedelta(hours=hours) - manual_clock.now()).total_seconds()
        )
        world.edit(channel, message.id, views=views)
        await collector.snapshot_metrics()
        rows = await store._rows("SELECT views FROM post_metrics ORDER BY captured_at")
        assert len(rows) == expected_rows, hours
    assert [r["views"] for r in rows] == [100, 400, 900, 1500]
    [record] = [r async for r in store.export_posts()]
    assert record["views"] == 1500


async def test_rename_is_followed_and_shown_in_health(
    world: World, collector: Collector, store: Store, manual_clock: ManualClock
) -> None:
    channel = world.add_channel("Канал", "old_name")
    fill(world, channel, 3)
    await collector.backfill((await collector.add("@old_name")).channel)
    world.rename(channel, "new_name")
    world.post(channel, "после переименования")
    await collector.catch_up()
    stored = await store.channel(channel.id)
    assert stored is not None and stored.username == "new_name"
    health = channel_health(stored, None, None, 0, manual_clock.now())
    assert health.state == "renamed" and "from @old_name to @new_name" in str(health.last_error)
    later = channel_health(stored, None, None, 0, manual_clock.now() + timedelta(days=8))
    assert later.state == "ok"


async def test_reconnection_backs_off_until_the_network_returns(
    world: World, tg: SandboxClient, collector: Collector, manual_clock: ManualClock
) -> None:
    world.cut_network()
    assert not tg.is_connected()
    assert await collector.ensure_connected(attempts=4) is False
    assert manual_clock.slept[-3:] == [1.0, 2.0, 4.0]
    world.restore_network()
    assert await collector.ensure_connected() is True
    assert await tg.get_me() is not None


async def test_private_and_group_messages_are_never_taken_for_a_followed_channels_posts(
    world: World, tg: SandboxClient, collector: Collector, store: Store
) -> None:
    channel = world.add_channel("Канал", "twin_chan")
    fill(world, channel, 3)
    await collector.backfill((await collector.add("@twin_chan")).channel)
    collector.install_handlers()
    # Telegram numbers users, basic groups and channels apart: their bare ids can meet.
    namesake = world.add_user("Тёзка", user_id=channel.id)
    group = world.add_group("Чат", members=[namesake, world.account], group_id=channel.id)
    before = await stored_view(store, channel.id)
    private = world.write_to_account(namesake, "личное сообщение")
    in_group = world.write_to_account(namesake, "сообщение в группе", group)
    await tg.settle()
    world.edit_in_account(private, "личное, исправлено")
    world.edit_in_account(in_group, "в группе, исправлено")
    await tg.settle()
    # Message ids 1 and 2 of the account's box: the channel has posts 1 and 2 as well.
    assert sorted([private.id, in_group.id]) == [1, 2]
    world.delete_in_account([private.id, in_group.id])
    await tg.settle()
    assert await stored_view(store, channel.id) == before
    assert await store.revision_count() == 3
    assert collector.live_stored == 0
    world.post(channel, "пост канала")  # the channel's own posts still arrive live
    await tg.settle()
    assert (await stored_view(store, channel.id))[4] == ("пост канала", False)
