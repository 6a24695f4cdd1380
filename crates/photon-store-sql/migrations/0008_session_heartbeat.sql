-- When the user's streaming page was last heard from: the connection state and the disconnect
-- timeout follow it. 0 (sessions from before) reads as the session's start.
ALTER TABLE sessions ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0;
