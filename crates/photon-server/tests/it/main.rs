//! Photon's black-box tests as one binary (one link, and one harness running every area side by
//! side): the spawned `photon serve` driven through aws-sdk-appstream in both protocols, hand-signed
//! HTTP, the `photon` CLI, restarts and kills, and (feature `browser-tests`, run by `.ci/run`) the
//! console in headless Chromium. One module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod bench;
#[cfg(feature = "browser-tests")]
mod browser;
mod builder_files;
mod builders;
mod common;
#[cfg(feature = "browser-tests")]
mod console_builders;
#[cfg(feature = "browser-tests")]
mod console_fleets;
mod console_http;
#[cfg(feature = "browser-tests")]
mod console_images;
mod copy;
mod fidelity;
mod fleets;
mod image_assistant;
mod metrics;
mod registry;
mod releases;
mod sessions;
mod sharing;
mod sharing_invariants;
mod stacks;
mod tags_and_admin;
mod terraform_fleet;
mod terraform_fleet_stack_association;
mod terraform_image_builder;
mod terraform_stack;
mod updates;
mod wire;
