-- Image builders. sort_key is hex(name), so listings order the same on every engine.
CREATE TABLE image_builders (
    region TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    sort_key TEXT NOT NULL,
    state TEXT NOT NULL,
    platform TEXT NOT NULL,
    instance_type TEXT NOT NULL,
    image_arn TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attrs TEXT NOT NULL,
    PRIMARY KEY (region, owner, name)
);
CREATE INDEX image_builders_listing ON image_builders (region, owner, sort_key);
