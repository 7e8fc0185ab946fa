-- API tokens get a scope (what they may do), an optional expiry and the time they were last
-- used. Tokens made before keep what they could do: admin, no expiry.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('metrics', 'read', 'admin'));
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;
CREATE INDEX sessions_user_id ON sessions (user_id);
