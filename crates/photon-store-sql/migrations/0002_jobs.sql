-- Durable jobs: every long-running transition is a row here, written in the same transaction
-- as the state change that starts it, and claimed by engines with a lease. A lease that runs
-- out (a crashed or killed process) makes the job claimable again; lease_owner fences a late
-- finish from the old owner.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    resource TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Claims scan due work in time order.
CREATE INDEX jobs_due ON jobs (state, run_at);
