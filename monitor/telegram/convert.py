"""Telethon objects -> the project's own types. The only module where the two meet."""

from __future__ import annotations

import re
from typing import Any

from telethon import utils
from telethon.tl import types

from monitor.models import ChannelInfo, Post, utc

# Entity names as Telegram Desktop exports write them, so both sources store the same words.
_ENTITY_NAMES = {
    "MessageEntityTextUrl": "text_link",
    "MessageEntityUrl": "link",
    "MessageEntityStrike": "strikethrough",
    "MessageEntityMentionName": "mention_name",
}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def channel_info(entity: Any) -> ChannelInfo:
    return ChannelInfo(
        id=int(entity.id),
        title=str(getattr(entity, "title", "") or entity.id),
        username=getattr(entity, "username", None) or _first_username(entity),
        access_hash=getattr(entity, "access_hash", None),
    )


def _first_username(entity: Any) -> str | None:
    for item in getattr(entity, "usernames", None) or []:
        if getattr(item, "active", False):
            return str(item.username)
    return None


def is_broadcast_channel(entity: Any) -> bool:
    return isinstance(entity, types.Channel) and bool(entity.broadcast)


def _entity_name(entity: Any) -> str:
    name = type(entity).__name__
    if name in _ENTITY_NAMES:
        return _ENTITY_NAMES[name]
    return _CAMEL.sub("_", name.removeprefix("MessageEntity")).lower()


def _entities(message: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for entity in message.entities or []:
        item: dict[str, Any] = {
            "type": _entity_name(entity),
            "offset": entity.offset,
            "length": entity.length,
        }
        if getattr(entity, "url", None):
            item["url"] = entity.url
        if getattr(entity, "user_id", None):
            item["user_id"] = entity.user_id
        found.append(item)
    return found


def _media_type(message: Any) -> str | None:
    media = message.media
    if media is None or isinstance(media, types.MessageMediaWebPage):
        return None
    if isinstance(media, types.MessageMediaPhoto):
        return "photo"
    if isinstance(media, types.MessageMediaDocument):
        document = media.document
        attributes = getattr(document, "attributes", None) or []
        for attribute in attributes:
            if isinstance(attribute, types.DocumentAttributeSticker):
                return "sticker"
            if isinstance(attribute, types.DocumentAttributeAnimated):
                return "animation"
        for attribute in attributes:
            if isinstance(attribute, types.DocumentAttributeVideo):
                return "video_message" if attribute.round_message else "video_file"
            if isinstance(attribute, types.DocumentAttributeAudio):
                return "voice_message" if attribute.voice else "audio_file"
        return "document"
    if isinstance(media, types.MessageMediaPoll):
        return "poll"
    if isinstance(
        media, types.MessageMediaGeo | types.MessageMediaGeoLive | types.MessageMediaVenue
    ):
        return "location"
    if isinstance(media, types.MessageMediaContact):
        return "contact"
    return _CAMEL.sub("_", type(media).__name__.removeprefix("MessageMedia")).lower()


def _reactions(message: Any) -> dict[str, int] | None:
    reactions = message.reactions
    if reactions is None:
        return None
    counts: dict[str, int] = {}
    for result in reactions.results or []:
        reaction = result.reaction
        if isinstance(reaction, types.ReactionEmoji):
            key = reaction.emoticon
        elif isinstance(reaction, types.ReactionCustomEmoji):
            key = f"custom:{reaction.document_id}"
        else:
            key = "paid" if type(reaction).__name__ == "ReactionPaid" else "other"
        counts[key] = counts.get(key, 0) + int(result.count)
    return counts


def _forward(message: Any) -> tuple[str | None, int | None]:
    header = message.fwd_from
    if header is None:
        return None, None
    peer_id = utils.get_peer_id(header.from_id, add_mark=False) if header.from_id else None
    name = header.from_name or header.post_author
    if name is None and message.forward is not None:
        chat = getattr(message.forward, "chat", None) or getattr(message.forward, "sender", None)
        name = getattr(chat, "title", None) or getattr(chat, "first_name", None)
    if name is None and peer_id is not None:
        name = str(peer_id)
    return name, peer_id


def to_post(message: Any, channel_id: int) -> Post | None:
    """The Post for a channel message; None for service messages and empty slots."""
    if not isinstance(message, types.Message):
        return None
    forward_from, forward_from_id = _forward(message)
    replies = message.replies.replies if message.replies is not None else None
    reply_to = getattr(message.reply_to, "reply_to_msg_id", None) if message.reply_to else None
    return Post(
        channel_id=channel_id,
        message_id=message.id,
        date=utc(message.date),
        text=message.message or "",
        entities=_entities(message),
        edit_date=utc(message.edit_date) if message.edit_date else None,
        media_type=_media_type(message),
        forward_from=forward_from,
        forward_from_id=forward_from_id,
        reply_to=reply_to,
        grouped_id=message.grouped_id,
        post_author=message.post_author,
        views=message.views,
        forwards=message.forwards,
        replies=replies,
        reactions=_reactions(message),
    )
