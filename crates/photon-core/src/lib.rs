//! The AppStream domain: accounts and regions, the image registry, tags and quotas. Each
//! operation is one inherent method of `Service` named as in the model (`Service::create_fleet`
//! in `fleet.rs`), taking the operation's input; `impl_app_stream!` below (generated from the
//! model) makes them the `AppStream` trait. It programs against ports only (`Store`, `Clock`)
//! and knows nothing of HTTP, wire formats or SQL.

pub mod account;
pub mod arn;
pub mod builder;
pub mod catalog;
pub mod console;
pub mod content;
pub mod copy;
pub(crate) mod doc;
mod error;
pub mod faults;
pub mod fleet;
pub mod image;
pub mod image_assistant;
pub mod pace;
pub mod quota;
pub mod region;
pub mod releases;
pub mod session;
pub mod sharing;
pub mod stack;
pub mod states;
pub mod tags;
pub mod token;
mod transition;
pub mod update;

use std::sync::Arc;

pub use error::{CoreError, INTERNAL_MESSAGE};
use photon_blob::{Layer, RegionalBlobs};
use photon_store::Store;

/// The domain reads time from the same clock as the engine, so tests control both at once.
pub use photon_workflow::{Clock, SystemClock};

/// The service: the store, the regions it serves, and the key that signs pagination tokens.
#[derive(Clone)]
pub struct Service {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) regions: Arc<Vec<String>>,
    pub(crate) token_key: Arc<Vec<u8>>,
    pub(crate) pace: pace::Pace,
    /// The base URL clients reach this server at, for the URLs it hands out.
    pub(crate) public_url: Arc<String>,
    /// Image and builder content.
    pub(crate) blobs: RegionalBlobs,
    /// Parsed layer manifests by digest: content-addressed, so never stale.
    pub(crate) layers: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<Layer>>>>,
    /// The OS layer of each platform, by blob store (see `Service::base_layers`).
    pub(crate) os_layers:
        Arc<std::sync::Mutex<std::collections::HashMap<(usize, &'static str), String>>>,
}

// The operations Photon implements; the others answer `NotImplemented` (the trait's default).
// `cargo xtask members` reads this list.
photon_types::impl_app_stream!(Service {
    describe_images,
    delete_image,
    tag_resource,
    untag_resource,
    list_tags_for_resource,
    create_image_builder,
    describe_image_builders,
    start_image_builder,
    stop_image_builder,
    delete_image_builder,
    create_image_builder_streaming_url,
    create_fleet,
    describe_fleets,
    update_fleet,
    start_fleet,
    stop_fleet,
    delete_fleet,
    create_stack,
    describe_stacks,
    update_stack,
    delete_stack,
    associate_fleet,
    disassociate_fleet,
    list_associated_fleets,
    list_associated_stacks,
    create_streaming_url,
    describe_sessions,
    expire_session,
    update_image_permissions,
    describe_image_permissions,
    delete_image_permissions,
    copy_image,
    create_updated_image,
});

impl Service {
    /// Builds the service and prepares the store: the token key is created once and shared by
    /// every process on the same store, and the public catalogue is seeded into every region.
    pub async fn start(
        store: Arc<dyn Store>,
        blobs: RegionalBlobs,
        clock: Arc<dyn Clock>,
        regions: Vec<String>,
    ) -> Result<Self, CoreError> {
        let key = token::load_or_create_key(store.as_ref()).await?;
        let svc = Service {
            store,
            clock,
            regions: Arc::new(regions),
            token_key: Arc::new(key),
            pace: pace::Pace::default(),
            public_url: Arc::new("http://127.0.0.1:7400".to_owned()),
            blobs,
            layers: Arc::default(),
            os_layers: Arc::default(),
        };
        image::seed_public_images(&svc).await?;
        svc.seed_releases().await?;
        Ok(svc)
    }

    /// The base URL of this server as clients reach it (e.g. `http://127.0.0.1:7400`).
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = Arc::new(url.trim_end_matches('/').to_owned());
        self
    }

    /// How long paced transitions take.
    pub fn with_pace(mut self, pace: pace::Pace) -> Self {
        self.pace = pace;
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn blobs(&self) -> &RegionalBlobs {
        &self.blobs
    }

    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_millis()
    }
}
