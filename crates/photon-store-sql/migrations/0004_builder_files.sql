-- An image builder's own writable layer, over the layers of the image it was launched from.
-- digest NULL is a deletion that hides the path in the image's layers.
CREATE TABLE builder_files (
    region TEXT NOT NULL,
    owner TEXT NOT NULL,
    builder TEXT NOT NULL,
    path TEXT NOT NULL,
    digest TEXT,
    size BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (region, owner, builder, path)
);
