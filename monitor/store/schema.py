"""The schema as numbered migrations. A migration, once released, is never edited: a change
is a new entry at the end. `PRAGMA user_version` holds the number of the last one applied."""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "archive",
        """
        CREATE TABLE schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        );

        CREATE TABLE channels (
            id INTEGER PRIMARY KEY,              -- Telegram channel id (without the -100 prefix)
            access_hash INTEGER,
            username TEXT,
            title TEXT NOT NULL,
            added_at TEXT NOT NULL,
            added_by TEXT NOT NULL,              -- 'import', 'cli' or a Telegram user id
            active INTEGER NOT NULL DEFAULT 0,   -- 1 while the collector follows it
            high_water INTEGER NOT NULL DEFAULT 0,  -- highest message id stored by the collector
            backfill_state TEXT NOT NULL DEFAULT 'none',
            chain_head TEXT NOT NULL DEFAULT '', -- hash of the channel's latest revision
            last_error TEXT,
            last_error_at TEXT
        );
        CREATE UNIQUE INDEX channels_username ON channels (lower(username))
            WHERE username IS NOT NULL;

        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            channel_id INTEGER NOT NULL REFERENCES channels (id),
            message_id INTEGER NOT NULL,
            date TEXT NOT NULL,                  -- UTC, 'YYYY-MM-DD HH:MM:SS'
            edit_date TEXT,
            text TEXT NOT NULL DEFAULT '',
            entities TEXT NOT NULL DEFAULT '[]', -- JSON: [{type, offset, length, url?}], UTF-16 offsets
            media_type TEXT,
            forward_from TEXT,
            forward_from_id INTEGER,
            reply_to INTEGER,
            grouped_id INTEGER,
            post_author TEXT,
            views INTEGER,
            forwards INTEGER,
            replies INTEGER,
            reactions INTEGER,                   -- total of all reactions
            reactions_detail TEXT,               -- JSON: {emoji: count}
            lemmas TEXT NOT NULL DEFAULT '',     -- the text pipeline's output, what search indexes
            first_seen_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted_at TEXT,
            UNIQUE (channel_id, message_id)
        );
        CREATE INDEX posts_date ON posts (date);
        CREATE INDEX posts_channel_date ON posts (channel_id, date);

        CREATE TABLE post_revisions (
            id INTEGER PRIMARY KEY,
            channel_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            date TEXT NOT NULL,
            text TEXT NOT NULL,
            edit_date TEXT,
            seen_at TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            FOREIGN KEY (channel_id, message_id) REFERENCES posts (channel_id, message_id)
        );
        CREATE INDEX post_revisions_post ON post_revisions (channel_id, message_id);

        CREATE TABLE post_metrics (
            channel_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            captured_at TEXT NOT NULL,
            views INTEGER,
            forwards INTEGER,
            replies INTEGER,
            reactions INTEGER,
            PRIMARY KEY (channel_id, message_id, captured_at),
            FOREIGN KEY (channel_id, message_id) REFERENCES posts (channel_id, message_id)
        );

        -- Full-text index over the lemma sequence. The pre-tokenised text only needs
        -- splitting on spaces; '#', '@' and '_' stay inside terms.
        CREATE VIRTUAL TABLE posts_fts USING fts5 (
            lemmas, content='posts', content_rowid='id', tokenize="ascii tokenchars '#@_'"
        );
        CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
            INSERT INTO posts_fts (rowid, lemmas) VALUES (new.id, new.lemmas);
        END;
        CREATE TRIGGER posts_fts_update AFTER UPDATE OF lemmas ON posts BEGIN
            INSERT INTO posts_fts (posts_fts, rowid, lemmas) VALUES ('delete', old.id, old.lemmas);
            INSERT INTO posts_fts (rowid, lemmas) VALUES (new.id, new.lemmas);
        END;
        CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
            INSERT INTO posts_fts (posts_fts, rowid, lemmas) VALUES ('delete', old.id, old.lemmas);
        END;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        2,
        "collection",
        """
        ALTER TABLE channels ADD COLUMN backfill_since TEXT;  -- oldest date the backfill reads
        ALTER TABLE channels ADD COLUMN state TEXT NOT NULL DEFAULT 'ok';
            -- ok, renamed, inaccessible or gone (silence is judged from the posts)
        ALTER TABLE channels ADD COLUMN last_read_at TEXT;    -- last successful read
        CREATE INDEX post_metrics_captured ON post_metrics (captured_at);
        CREATE INDEX posts_deleted ON posts (deleted_at) WHERE deleted_at IS NOT NULL;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        3,
        "sentiment",
        """
        ALTER TABLE posts ADD COLUMN sentiment REAL;  -- compound score in [-1, 1], NULL if unscored
        """,
    ),
)
MIGRATIONS += (
    Migration(
        4,
        "watchlists",
        """
        CREATE TABLE watch_terms (
            id INTEGER PRIMARY KEY,
            term TEXT NOT NULL,                          -- as the user wrote it
            channel_id INTEGER REFERENCES channels (id), -- NULL: every channel
            added_at TEXT NOT NULL,
            added_by TEXT NOT NULL
        );
        CREATE UNIQUE INDEX watch_terms_unique ON watch_terms (lower(term), coalesce(channel_id, 0));
        CREATE TABLE watch_patterns (
            term_id INTEGER NOT NULL REFERENCES watch_terms (id) ON DELETE CASCADE,
            alias TEXT NOT NULL,                         -- the term itself or one of its aliases
            lemmas TEXT NOT NULL,                        -- its lemma sequence, space-separated
            PRIMARY KEY (term_id, lemmas)
        );
        -- Posts mentioning the term, per channel and UTC day.
        CREATE TABLE watch_counts (
            term_id INTEGER NOT NULL REFERENCES watch_terms (id) ON DELETE CASCADE,
            channel_id INTEGER NOT NULL,
            day TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (term_id, channel_id, day)
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        5,
        "mentions",
        """
        -- Each post that mentions a watched term, so that a term's posts in a period are one
        -- index range away (the digest scores how they speak of it).
        CREATE TABLE watch_mentions (
            term_id INTEGER NOT NULL REFERENCES watch_terms (id) ON DELETE CASCADE,
            post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
            channel_id INTEGER NOT NULL,
            date TEXT NOT NULL,                          -- the post's date, UTC
            PRIMARY KEY (term_id, post_id)
        ) WITHOUT ROWID;
        CREATE INDEX watch_mentions_date ON watch_mentions (term_id, date, channel_id);
        INSERT OR IGNORE INTO watch_mentions (term_id, post_id, channel_id, date)
            SELECT t.id, p.id, p.channel_id, p.date
            FROM watch_terms t JOIN watch_patterns w ON w.term_id = t.id
                JOIN posts p ON t.channel_id IS NULL OR t.channel_id = p.channel_id
            WHERE instr(' ' || p.lemmas || ' ', ' ' || w.lemmas || ' ');
        -- From now on the counts follow the mentions through these triggers.
        DELETE FROM watch_counts;
        INSERT INTO watch_counts (term_id, channel_id, day, count)
            SELECT term_id, channel_id, substr(date, 1, 10), count(*)
            FROM watch_mentions GROUP BY term_id, channel_id, substr(date, 1, 10);
        CREATE TRIGGER watch_mentions_count AFTER INSERT ON watch_mentions BEGIN
            INSERT INTO watch_counts (term_id, channel_id, day, count)
                VALUES (new.term_id, new.channel_id, substr(new.date, 1, 10), 1)
                ON CONFLICT (term_id, channel_id, day) DO UPDATE SET count = count + 1;
        END;
        CREATE TRIGGER watch_mentions_uncount AFTER DELETE ON watch_mentions BEGIN
            UPDATE watch_counts SET count = count - 1 WHERE term_id = old.term_id
                AND channel_id = old.channel_id AND day = substr(old.date, 1, 10);
        END;
        -- With the score in the index, a channel's scores over a period are read from it alone.
        DROP INDEX posts_channel_date;
        CREATE INDEX posts_channel_date ON posts (channel_id, date, sentiment);
        CREATE INDEX post_revisions_seen ON post_revisions (seen_at);
        """,
    ),
)

MIGRATIONS += (
    Migration(
        6,
        "bot",
        """
        -- Users an admin allowed (ACCESS=allowlist); admins themselves come from ADMIN_IDS.
        CREATE TABLE bot_users (
            user_id INTEGER PRIMARY KEY,                 -- numeric Telegram user id
            granted_by INTEGER NOT NULL,
            granted_at TEXT NOT NULL
        );
        -- Chats that receive digests and/or alerts.
        CREATE TABLE subscriptions (
            chat_id INTEGER PRIMARY KEY,                 -- Telethon's marked chat id
            digest_time TEXT,                            -- HH:MM local; NULL: no digest
            timezone TEXT NOT NULL,
            alerts INTEGER NOT NULL DEFAULT 0,
            since TEXT NOT NULL,                         -- no digest for periods before this
            active INTEGER NOT NULL DEFAULT 1,           -- 0: the chat blocked the bot or is gone
            inactive_reason TEXT,
            updated_by INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );
        -- Each (chat, period) digest, recorded part by part, so a restart neither repeats
        -- it nor loses its rest.
        CREATE TABLE digests_sent (
            chat_id INTEGER NOT NULL,
            period_start TEXT NOT NULL,
            period_end TEXT NOT NULL,
            parts INTEGER NOT NULL,
            parts_sent INTEGER NOT NULL DEFAULT 0,
            completed_at TEXT,
            PRIMARY KEY (chat_id, period_start)
        );
        -- Alerts: sent (for the cool-down and the hourly cap) or held for later.
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            key TEXT NOT NULL,                           -- kind, term and channel
            text TEXT NOT NULL,                          -- the rendered message
            found_at TEXT NOT NULL,
            sent_at TEXT                                 -- NULL: held
        );
        CREATE INDEX alerts_chat ON alerts (chat_id, sent_at);
        -- /search result paging: the button carries only this row's id and a page number.
        CREATE TABLE search_pages (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            query TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        -- Bot events worth showing in /status.
        CREATE TABLE bot_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        7,
        "batch-index",
        """
        -- Posts are indexed by the statement that stores their batch (store_posts), which
        -- FTS5 does at a fraction of the cost of a trigger firing for each row.
        DROP TRIGGER posts_fts_insert;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        8,
        "delivery",
        """
        -- Who a subscription is served for: the user who last turned its digest or alerts
        -- on, and when. Rows from before this migration take the last change (updated_by,
        -- updated_at): only the chat's admins, themselves allowed users, could make one,
        -- so the last of them is the best record there is of who vouched for it.
        ALTER TABLE subscriptions ADD COLUMN subscribed_by INTEGER;
        ALTER TABLE subscriptions ADD COLUMN subscribed_at TEXT;
        UPDATE subscriptions SET subscribed_by = updated_by, subscribed_at = updated_at;
        -- Each chat's deliveries on their own: its failures in a row, the last error and
        -- when it may be tried again; the last message it received.
        ALTER TABLE subscriptions ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE subscriptions ADD COLUMN last_error TEXT;
        ALTER TABLE subscriptions ADD COLUMN last_error_at TEXT;
        ALTER TABLE subscriptions ADD COLUMN retry_at TEXT;
        ALTER TABLE subscriptions ADD COLUMN last_delivery_at TEXT;
        -- A digest's parts as planned when it began, so an interrupted one is finished with
        -- exactly what it started with; removed once every part is delivered.
        CREATE TABLE digest_parts (
            chat_id INTEGER NOT NULL,
            period_start TEXT NOT NULL,
            part INTEGER NOT NULL,                       -- from 0, in sending order
            html TEXT,                                   -- a message ...
            chart_term TEXT,                             -- ... or the trend chart of this term
            PRIMARY KEY (chat_id, period_start, part),
            FOREIGN KEY (chat_id, period_start) REFERENCES digests_sent (chat_id, period_start)
                ON DELETE CASCADE,
            CHECK ((html IS NULL) != (chart_term IS NULL))
        );
        -- Before this migration an unfinished digest counted as sent and its parts were not
        -- kept, so it cannot be finished as begun: it stays counted as it was.
        UPDATE digests_sent SET completed_at = period_end WHERE completed_at IS NULL;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        9,
        "evidence-chain-2",
        """
        -- Chain version 2 (monitor/integrity.py): a revision records where it was read and
        -- every field that is evidence; revisions written before keep version 1.
        ALTER TABLE post_revisions ADD COLUMN chain_version INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE post_revisions ADD COLUMN source TEXT;
            -- live, backfill, catch-up, recheck or import; NULL: not recorded (version 1)
        ALTER TABLE post_revisions ADD COLUMN source_file TEXT;    -- import: the export file
        ALTER TABLE post_revisions ADD COLUMN source_sha256 TEXT;  -- import: its SHA-256
        ALTER TABLE post_revisions ADD COLUMN entities TEXT;       -- version 2 on, as in posts
        ALTER TABLE post_revisions ADD COLUMN media_type TEXT;
        ALTER TABLE post_revisions ADD COLUMN forward_from TEXT;
        ALTER TABLE post_revisions ADD COLUMN forward_from_id INTEGER;
        ALTER TABLE post_revisions ADD COLUMN post_author TEXT;
        ALTER TABLE post_revisions ADD COLUMN reply_to INTEGER;
        ALTER TABLE post_revisions ADD COLUMN deleted_at TEXT;
            -- set: a deletion event (the post as it was, seen deleted at this time)
        ALTER TABLE posts ADD COLUMN source TEXT;                  -- its current version's
        -- A channel the collector never followed holds only what imports brought.
        UPDATE post_revisions SET source = 'import'
            WHERE channel_id IN (SELECT id FROM channels WHERE backfill_state = 'none');
        UPDATE posts SET source = 'import'
            WHERE channel_id IN (SELECT id FROM channels WHERE backfill_state = 'none');
        """,
    ),
)

MIGRATIONS += (
    Migration(
        10,
        "last-swept",
        """
        -- When the collector last re-checked the channel's recent posts for deletions: at
        -- start, `run` sweeps every channel whose last sweep is older than the interval.
        ALTER TABLE channels ADD COLUMN last_swept_at TEXT;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        11,
        "search-page-starts",
        """
        -- Where each page of a saved /search begins: after this post in date order, newest
        -- first (keyset paging), so a post stored between two presses shifts no page.
        CREATE TABLE search_page_starts (
            search_id INTEGER NOT NULL REFERENCES search_pages (id) ON DELETE CASCADE,
            page INTEGER NOT NULL,
            after_date TEXT NOT NULL,
            after_id INTEGER NOT NULL,
            PRIMARY KEY (search_id, page)
        ) WITHOUT ROWID;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        13,
        "boilerplate",
        """
        -- Each channel's learned boilerplate (monitor/analysis/boilerplate.py): lines and
        -- trailing phrases it repeats in many posts, masked out of what the detectors read.
        CREATE TABLE boilerplate (
            channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
            lemmas TEXT NOT NULL,                -- space-joined, as posts.lemmas holds them
            text TEXT NOT NULL,                  -- as the channel writes it most often
            posts INTEGER NOT NULL,              -- sampled posts holding it ...
            sampled INTEGER NOT NULL,            -- ... of this many
            PRIMARY KEY (channel_id, lemmas)
        ) WITHOUT ROWID;
        -- The newest post the channel's boilerplate was learned from (NULL: never learned),
        -- and when: it is learned again once enough newer posts have arrived.
        ALTER TABLE channels ADD COLUMN boilerplate_through TEXT;
        ALTER TABLE channels ADD COLUMN boilerplate_learned_at TEXT;
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
