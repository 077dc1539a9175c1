-- Prosody of each spoken user message (os1.voice.prosody): how it was said, for later intuition.
CREATE TABLE utterance_prosody (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    energy_db REAL NOT NULL,
    pitch_hz REAL,
    pitch_range_hz REAL,
    speaking_rate REAL,
    voiced_seconds REAL NOT NULL,
    seconds REAL NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX utterance_prosody_by_message ON utterance_prosody (user_id, message_id);
