-- The desktop app's own database: settings, recent rooms, call history.
CREATE TABLE settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    json TEXT NOT NULL
);

CREATE TABLE recent_rooms (
    server TEXT NOT NULL,
    room TEXT NOT NULL,
    scene TEXT NOT NULL,
    last_joined_ms INTEGER NOT NULL,
    PRIMARY KEY (server, room)
);

CREATE TABLE call_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    server TEXT NOT NULL,
    room TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    participants TEXT NOT NULL -- JSON array of user ids
);
