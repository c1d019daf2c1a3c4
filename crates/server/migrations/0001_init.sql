-- Apps (tenants), the usage ledger and room history. Every row outside `apps` belongs to
-- exactly one app, so one app's data never shows up in another's queries.

CREATE TABLE apps (
    id            INTEGER PRIMARY KEY,          -- SDKAppID
    name          TEXT    NOT NULL,
    secret_key    TEXT    NOT NULL,             -- 64 hex chars
    created_at_ms INTEGER NOT NULL
);

-- One "development" app at most, so that concurrent first starts cannot create two.
CREATE UNIQUE INDEX apps_one_development ON apps (name) WHERE name = 'development';

-- One row per member stay (enter .. exit, removal or loss).
CREATE TABLE usage (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id            INTEGER NOT NULL REFERENCES apps (id),
    room              TEXT    NOT NULL,
    user_id           TEXT    NOT NULL,
    role              TEXT    NOT NULL CHECK (role IN ('anchor', 'audience')),
    joined_at_ms      INTEGER NOT NULL,
    left_at_ms        INTEGER NOT NULL,
    seconds_connected REAL    NOT NULL,
    seconds_lost      REAL    NOT NULL
);

CREATE INDEX usage_by_app ON usage (app_id, joined_at_ms);

CREATE TABLE room_history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       INTEGER NOT NULL REFERENCES apps (id),
    room         TEXT    NOT NULL,
    scene        TEXT    NOT NULL CHECK (scene IN ('videocall', 'audiocall', 'live', 'voicechatroom')),
    opened_at_ms INTEGER NOT NULL,
    closed_at_ms INTEGER,
    peak_users   INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX room_history_by_app ON room_history (app_id, opened_at_ms);
