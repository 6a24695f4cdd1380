//! Which states of each resource are settled, that is, no transition is in progress and none
//! will start by itself. One exhaustive match per state enum of the model, so that a state the
//! model adds does not compile until it is placed, and the console's badges (and anything else
//! that waits) ask the domain instead of copying its state machine.

use photon_types::{FleetState, ImageBuilderState, ImageState};

pub fn image_settled(s: ImageState) -> bool {
    match s {
        ImageState::Available | ImageState::Failed => true,
        ImageState::Pending
        | ImageState::Copying
        | ImageState::Deleting
        | ImageState::Creating
        | ImageState::Importing
        | ImageState::Validating => false,
    }
}

pub fn builder_settled(s: ImageBuilderState) -> bool {
    match s {
        ImageBuilderState::Running | ImageBuilderState::Stopped | ImageBuilderState::Failed => true,
        ImageBuilderState::Pending
        | ImageBuilderState::UpdatingAgent
        | ImageBuilderState::Stopping
        | ImageBuilderState::Rebooting
        | ImageBuilderState::Snapshotting
        | ImageBuilderState::Deleting
        | ImageBuilderState::Updating
        | ImageBuilderState::PendingQualification
        | ImageBuilderState::PendingSyncingApps
        | ImageBuilderState::SyncingApps
        | ImageBuilderState::PendingImageImport => false,
    }
}

pub fn fleet_settled(s: FleetState) -> bool {
    match s {
        FleetState::Running | FleetState::Stopped => true,
        FleetState::Starting | FleetState::Stopping => false,
    }
}

/// The kinds whose states can be asked for by name (the console's `image`, `builder`, `fleet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image,
    Builder,
    Fleet,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "image" => Some(Kind::Image),
            "builder" => Some(Kind::Builder),
            "fleet" => Some(Kind::Fleet),
            _ => None,
        }
    }

    /// Whether `state` (a wire name) is settled for this kind; a name the model does not have
    /// for the kind (a resource that is gone reads as `DELETED`) is settled, since nothing will
    /// change it.
    pub fn settled(self, state: &str) -> bool {
        match self {
            Kind::Image => ImageState::from_wire(state).is_none_or(image_settled),
            Kind::Builder => ImageBuilderState::from_wire(state).is_none_or(builder_settled),
            Kind::Fleet => FleetState::from_wire(state).is_none_or(fleet_settled),
        }
    }

    /// Whether `state` (a wire name) is this kind's failure state (fleets have none).
    pub fn failed(self, state: &str) -> bool {
        match self {
            Kind::Image => ImageState::from_wire(state) == Some(ImageState::Failed),
            Kind::Builder => ImageBuilderState::from_wire(state) == Some(ImageBuilderState::Failed),
            Kind::Fleet => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_busy_and_resting_states_settled() {
        assert!(Kind::Image.settled("AVAILABLE"));
        assert!(!Kind::Image.settled("COPYING"));
        assert!(!Kind::Builder.settled("SNAPSHOTTING"));
        assert!(Kind::Builder.settled("DELETED"));
        assert!(!Kind::Fleet.settled("STARTING"));
        assert!(Kind::Fleet.settled("STOPPED"));
    }

    #[test]
    fn failure_is_the_kinds_own_state() {
        assert!(Kind::Image.failed("FAILED"));
        assert!(Kind::Builder.failed("FAILED"));
        assert!(!Kind::Image.failed("AVAILABLE"));
        assert!(!Kind::Fleet.failed("FAILED"));
    }
}
