-- One schema for SQLite and PostgreSQL: only types and syntax both accept
-- (TEXT, BIGINT, composite primary keys, ON CONFLICT). Integers are BIGINT so that every
-- engine hands back an i64; booleans are BIGINT 0/1 for the same reason.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    secret_access_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- owner is '' for AWS-owned public images. sort_key is hex(name) || '00' || hex(arn): the same
-- order under every collation, unique, and the keyset that pagination resumes from.
CREATE TABLE images (
    region TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    sort_key TEXT NOT NULL,
    state TEXT NOT NULL,
    platform TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attrs TEXT NOT NULL,
    PRIMARY KEY (region, owner, name)
);
CREATE INDEX images_listing ON images (region, owner, sort_key);

-- Who an image is shared with. sort_key repeats the image's, so a recipient's listing is one
-- index range scan.
CREATE TABLE image_shares (
    region TEXT NOT NULL,
    owner TEXT NOT NULL,
    image_name TEXT NOT NULL,
    shared_account TEXT NOT NULL,
    allow_fleet BIGINT NOT NULL,
    allow_image_builder BIGINT NOT NULL,
    sort_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (region, owner, image_name, shared_account)
);
CREATE INDEX image_shares_recipient ON image_shares (region, shared_account, sort_key);

CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (resource_arn, tag_key)
);

-- region '' is the account's value for every region that has no value of its own.
CREATE TABLE quotas (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (account_id, region, name)
);
