-- The camera's effects (beauty, filter, mirror), saved whole like the audio effects.
CREATE TABLE video_effects (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    json TEXT NOT NULL
);
