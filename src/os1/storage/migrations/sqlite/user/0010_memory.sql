-- Long-term memory (os1.memory). Every memory has provenance: memory_sources lists the
-- messages it came from, which is what makes forgetting exact (lineage).
CREATE TABLE memories (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('turn', 'fact', 'summary', 'reflection')),
    text TEXT NOT NULL,
    topic TEXT,                 -- facts: what the fact is about; a correction shares it
    session_id INTEGER,
    message_id INTEGER,         -- turns: the message itself
    occurred_at TEXT NOT NULL,  -- when it was said (UTC ISO)
    event_date TEXT,            -- the day it refers to, when one was resolved (ISO date)
    importance REAL NOT NULL DEFAULT 0.5,
    origin TEXT NOT NULL,       -- conversation, rule, model, summary, reflection
    created_at TEXT NOT NULL,
    superseded_by INTEGER,      -- the newer memory that corrected this one
    superseded_at TEXT,
    embedding BLOB              -- float16 little-endian, L2-normalised
);
CREATE INDEX memories_by_kind ON memories (user_id, kind, id);
CREATE INDEX memories_by_topic ON memories (user_id, topic);
CREATE INDEX memories_by_session ON memories (user_id, session_id, id);
CREATE INDEX memories_by_message ON memories (message_id);

CREATE TABLE memory_sources (
    memory_id INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (memory_id, message_id)
) WITHOUT ROWID;
CREATE INDEX memory_sources_by_message ON memory_sources (message_id, memory_id);

-- Full text over memories.text; rowid = memories.id.
CREATE VIRTUAL TABLE memory_fts USING fts5 (text, tokenize = 'porter unicode61');
