-- Fleets. image_arn is indexed so "what uses this image" is one index lookup.
CREATE TABLE fleets (
    region TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    sort_key TEXT NOT NULL,
    state TEXT NOT NULL,
    image_arn TEXT NOT NULL,
    instance_type TEXT NOT NULL,
    fleet_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attrs TEXT NOT NULL,
    PRIMARY KEY (region, owner, name)
);
CREATE INDEX fleets_listing ON fleets (region, owner, sort_key);
CREATE INDEX fleets_by_image ON fleets (image_arn);
