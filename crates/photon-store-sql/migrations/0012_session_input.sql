-- When the session's user last gave keyboard or mouse input: the fleet's idle disconnect
-- timeout follows it. 0 (sessions from before) reads as the session's last heartbeat.
ALTER TABLE sessions ADD COLUMN last_input BIGINT NOT NULL DEFAULT 0;
