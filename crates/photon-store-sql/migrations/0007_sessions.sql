-- Streaming sessions, each on an instance provisioned from the fleet's image at its start.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    owner TEXT NOT NULL,
    stack TEXT NOT NULL,
    fleet TEXT NOT NULL,
    user_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    image_arn TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_fleet ON sessions (region, owner, fleet, started_at);

-- Streaming URLs are single use: a URL's id is recorded the first time it is opened.
CREATE TABLE used_streaming_urls (
    id TEXT PRIMARY KEY,
    used_at BIGINT NOT NULL
);
