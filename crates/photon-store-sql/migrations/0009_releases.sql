-- The release feed: AWS base image releases per platform, and AppStream agent versions. Dates
-- are YYYY-MM-DD text, which sorts as it reads. driver_versions is a JSON object.
CREATE TABLE base_image_releases (
    platform TEXT NOT NULL,
    image_name TEXT NOT NULL,
    released TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    os_patch_level TEXT NOT NULL,
    driver_versions TEXT NOT NULL,
    content_layer TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (platform, image_name)
);

CREATE TABLE agent_versions (
    version TEXT PRIMARY KEY,
    released TEXT NOT NULL,
    notes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
