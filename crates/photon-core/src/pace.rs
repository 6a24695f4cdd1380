//! How long paced transitions take: `instant` for tests, `fast` (a few seconds, the default)
//! for trying things out, `realistic` (minutes, like AWS) for rehearsing automation.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    Instant,
    #[default]
    Fast,
    Realistic,
}

/// The transitions that take time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    BuilderStart,
    BuilderStop,
    BuilderDelete,
    /// An image being created from a builder (`PENDING` → `AVAILABLE`, builder `SNAPSHOTTING`).
    ImageCreate,
    FleetStart,
    FleetStop,
    /// An image copy (`COPYING` → `AVAILABLE`).
    ImageCopy,
    /// Each stage of a managed image update (patching, then qualification).
    ImageUpdate,
}

impl Pace {
    pub fn parse(s: &str) -> Option<Pace> {
        match s {
            "instant" => Some(Pace::Instant),
            "fast" => Some(Pace::Fast),
            "realistic" => Some(Pace::Realistic),
            _ => None,
        }
    }

    pub fn delay(self, stage: Stage) -> Duration {
        let secs = match (self, stage) {
            (Pace::Instant, _) => 0,
            (Pace::Fast, Stage::BuilderStart) => 3,
            (Pace::Fast, Stage::ImageCreate) => 4,
            (Pace::Fast, Stage::FleetStart) => 3,
            (Pace::Fast, Stage::ImageCopy) => 3,
            (Pace::Fast, Stage::ImageUpdate) => 2,
            // The guide: an update can take hours; a realistic rehearsal takes some minutes.
            (Pace::Realistic, Stage::ImageUpdate) => 900,
            // The guide: a copy takes minutes, longer for large images.
            (Pace::Realistic, Stage::ImageCopy) => 600,
            // The guide: a fleet takes about 10-20 minutes to start.
            (Pace::Realistic, Stage::FleetStart) => 900,
            (Pace::Realistic, Stage::FleetStop) => 120,
            // The guide: creating an image takes several minutes (tens, for large builders).
            (Pace::Realistic, Stage::ImageCreate) => 900,
            (Pace::Fast, _) => 1,
            // The guide: a builder takes about 10 minutes to become Running.
            (Pace::Realistic, Stage::BuilderStart) => 600,
            (Pace::Realistic, Stage::BuilderStop) => 120,
            (Pace::Realistic, Stage::BuilderDelete) => 60,
        };
        Duration::from_secs(secs)
    }
}
