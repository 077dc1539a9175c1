-- The registry of users on this installation. Holds no conversation data.
-- Names compare case-insensitively, like SQLite's COLLATE NOCASE (an ICU collation needs no
-- extension, only the right to create objects in the schema).
CREATE COLLATION IF NOT EXISTS os1_nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE os1_nocase,
    created_at TEXT NOT NULL
);
