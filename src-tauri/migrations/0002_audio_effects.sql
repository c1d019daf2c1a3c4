-- The microphone's effects, apart from the settings the settings dialog writes whole.
CREATE TABLE audio_effects (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    json TEXT NOT NULL
);
