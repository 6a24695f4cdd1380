-- Faults an operator injects into a stage of a long operation (chaos testing). image '' matches
-- every image; remaining counts the failures still to cause.
CREATE TABLE faults (
    id TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    stage TEXT NOT NULL,
    error_code TEXT NOT NULL,
    message TEXT NOT NULL,
    image TEXT NOT NULL,
    remaining BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
