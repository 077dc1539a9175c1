-- One user's conversation and identity. Every row carries user_id (checked on open).
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL DEFAULT 'text',
    started_at TEXT NOT NULL
);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'complete'
        CHECK (status IN ('complete', 'streaming', 'interrupted', 'failed')),
    created_at TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX messages_by_session ON messages (user_id, session_id, id);
CREATE INDEX messages_by_time ON messages (user_id, created_at);

CREATE TABLE identity (
    user_id TEXT PRIMARY KEY,
    os_name TEXT,
    voice TEXT,
    user_name TEXT,
    onboarding_step TEXT NOT NULL DEFAULT 'start',
    onboarding TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Who the OS was and is: every identity change, oldest first.
CREATE TABLE identity_history (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    reason TEXT
);
