-- API tokens for the JSON API (`Authorization: Bearer …`). Only the SHA-256 of a token is kept:
-- the token itself is shown once, when `tentacle token create NAME` makes it.
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
