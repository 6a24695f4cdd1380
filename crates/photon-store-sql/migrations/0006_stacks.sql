-- Stacks, and which fleet each stack is associated with.
CREATE TABLE stacks (
    region TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    sort_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attrs TEXT NOT NULL,
    PRIMARY KEY (region, owner, name)
);
CREATE INDEX stacks_listing ON stacks (region, owner, sort_key);

CREATE TABLE stack_fleets (
    region TEXT NOT NULL,
    owner TEXT NOT NULL,
    stack TEXT NOT NULL,
    fleet TEXT NOT NULL,
    PRIMARY KEY (region, owner, stack, fleet)
);
CREATE INDEX stack_fleets_by_fleet ON stack_fleets (region, owner, fleet);
