//! Streaming sessions: `CreateStreamingURL` hands out a single-use, expiring URL; opening it
//! starts a session on a free instance of the stack's fleet, provisioned from the fleet's image
//! at that moment; `DescribeSessions` lists them and `ExpireSession` ends one (its instance is
//! non-persistent and is replaced).

use photon_store::JobRecord;
use photon_store::{Key, LockKey, SessionRecord};
use photon_types::{
    AuthenticationType, Caller, CreateStreamingURLRequest, CreateStreamingURLResult,
    DescribeSessionsRequest, DescribeSessionsResult, ExpireSessionRequest,
    NetworkAccessConfiguration, Session, SessionConnectionState, SessionState, StreamView,
    Timestamp,
};
use photon_workflow::{or_retry, BoxFuture, JobKind, Step, Typed};
use rand::Rng;

use crate::{token, CoreError, Service};

pub const JOB_KIND: &str = "session-end";

/// The session a session-end job watches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionEnd {
    pub session_id: String,
}

impl photon_workflow::Payload for SessionEnd {
    fn legacy(text: &str) -> Option<Self> {
        // Before documents the payload was the session id itself.
        (!text.is_empty() && !text.starts_with('{')).then(|| SessionEnd {
            session_id: text.to_owned(),
        })
    }
}

/// The model: streaming URLs last 60 seconds unless asked otherwise, a week at most.
pub const DEFAULT_URL_VALIDITY_SECS: i64 = 60;
pub const MAX_URL_VALIDITY_SECS: i64 = 604_800;

/// How often the streaming page reports that its user is still there.
pub const HEARTBEAT_SECS: i64 = 20;
/// A session not heard from for this long shows as `NOT_CONNECTED` (three missed heartbeats).
const CONNECTED_WINDOW_MS: i64 = 3 * HEARTBEAT_SECS * 1000;

/// The network interface an instance streams through, derived from its id so every read of
/// one instance (or builder) reports the same one: an `eni-` id and a private address in
/// 10.0.0.0/8.
pub(crate) fn network_access(instance: &str) -> NetworkAccessConfiguration {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(instance.as_bytes());
    NetworkAccessConfiguration {
        eni_id: Some(format!("eni-0{}", hex_of(&h[..8]))),
        eni_private_ip_address: Some(format!("10.{}.{}.{}", h[8], h[9], h[10].max(1))),
        eni_ipv6_addresses: None,
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a streaming URL asks of the session it starts besides the user: the application to
/// open (or the desktop) and the session context handed to it. The page shows both; nothing
/// else reads them, so they travel in the URL's sealed token rather than in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamRequest {
    /// `ApplicationId`: an application of the image, or `Desktop`.
    pub application: Option<String>,
    /// The application's launch path on the instance, when it is one of the image's.
    pub launch_path: Option<String>,
    /// `SessionContext`, as given (the instance's `APPSTREAM_SESSION_CONTEXT`).
    pub session_context: Option<String>,
    /// `DESKTOP` or `APP`: the fleet's stream view.
    pub stream_view: String,
}

/// The fleet's `IdleDisconnectTimeoutInSeconds` as it acts, in milliseconds: rounded to the
/// nearest minute, a midpoint rounding up (the model: 70 disconnects after 1 minute, 90 after
/// 2). `None` when it is 0 (off).
pub fn idle_after_ms(idle_secs: i32) -> Option<i64> {
    (idle_secs > 0).then(|| ((i64::from(idle_secs) + 30) / 60) * 60_000)
}

/// When a session's user was disconnected for inactivity, if the fleet's idle timeout has
/// passed since the last keyboard or mouse input.
fn idle_since(s: &SessionRecord, idle: Option<i64>, now: i64) -> Option<i64> {
    let at = s.last_input.saturating_add(idle?);
    (now >= at).then_some(at)
}

/// Whether the user is connected now: the page heard from within the window, and not
/// disconnected for inactivity.
fn is_connected(s: &SessionRecord, idle: Option<i64>, now: i64) -> bool {
    now.saturating_sub(s.last_seen) <= CONNECTED_WINDOW_MS && idle_since(s, idle, now).is_none()
}

/// When the session ends for its user's absence: the disconnect timeout after the page was
/// last heard from, or after the idle timeout disconnected the user, whichever is first.
fn gone_at(s: &SessionRecord, idle: Option<i64>, disconnect_ms: i64) -> i64 {
    let page_gone = s.last_seen;
    let idle_gone = idle.map_or(i64::MAX, |i| s.last_input.saturating_add(i));
    page_gone.min(idle_gone).saturating_add(disconnect_ms)
}

/// What a heartbeat learns about its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connected,
    /// Disconnected for inactivity: input reconnects, until the disconnect timeout ends it.
    Idle,
}

fn to_api(s: SessionRecord, idle: Option<i64>, now: i64) -> Session {
    let connected = is_connected(&s, idle, now);
    Session {
        id: s.id,
        user_id: s.user_id,
        stack_name: s.stack,
        fleet_name: s.fleet,
        state: SessionState::Active,
        connection_state: Some(if connected {
            SessionConnectionState::Connected
        } else {
            SessionConnectionState::NotConnected
        }),
        start_time: Some(Timestamp(s.started_at)),
        max_expiration_time: Some(Timestamp(s.expires_at)),
        authentication_type: Some(AuthenticationType::Api),
        network_access_configuration: Some(network_access(&s.instance_id)),
        instance_id: Some(s.instance_id),
        ..Default::default()
    }
}

impl Service {
    pub async fn create_streaming_url(
        &self,
        cx: &Caller,
        input: CreateStreamingURLRequest,
    ) -> Result<CreateStreamingURLResult, CoreError> {
        let validity = input.validity.unwrap_or(DEFAULT_URL_VALIDITY_SECS);
        if !(1..=MAX_URL_VALIDITY_SECS).contains(&validity) {
            return Err(CoreError::Invalid(format!(
                "Validity must be between 1 and {MAX_URL_VALIDITY_SECS} seconds, not {validity}"
            )));
        }
        if self
            .store
            .stack(Key::new(&cx.region, &cx.account_id, &input.stack_name))
            .await?
            .is_none()
        {
            return Err(CoreError::NotFound(format!(
                "stack '{}' does not exist in {}",
                input.stack_name, cx.region
            )));
        }
        let Some(fleet) = self
            .store
            .fleet(Key::new(&cx.region, &cx.account_id, &input.fleet_name))
            .await?
        else {
            return Err(CoreError::NotFound(format!(
                "fleet '{}' does not exist in {}",
                input.fleet_name, cx.region
            )));
        };
        let fleets = self
            .store
            .fleets_of_stack(&cx.region, &cx.account_id, &input.stack_name)
            .await?;
        if !fleets.contains(&input.fleet_name) {
            return Err(CoreError::InvalidCombination(format!(
                "fleet '{}' is not associated with stack '{}'; associate them with AssociateFleet",
                input.fleet_name, input.stack_name
            )));
        }
        if fleet.state != photon_types::FleetState::Running {
            return Err(CoreError::NotPermitted(format!(
                "fleet '{}' is {}; start it and wait for RUNNING before streaming",
                input.fleet_name, fleet.state
            )));
        }
        let launch = self
            .streamed_application(&fleet, input.application_id.as_deref())
            .await?;
        let expires = self.now().saturating_add(validity.saturating_mul(1000));
        let id = format!("{:032x}", rand::thread_rng().gen::<u128>());
        // The application and the context are free text: hex keeps the token's separators
        // theirs.
        let text = format!(
            "stream|{}|{}|{}|{}|{}|{expires}|{id}|{}|{}|{}",
            cx.account_id,
            cx.region,
            input.stack_name,
            input.fleet_name,
            input.user_id,
            hex_of(
                input
                    .application_id
                    .as_deref()
                    .unwrap_or_default()
                    .as_bytes()
            ),
            hex_of(launch.as_deref().unwrap_or_default().as_bytes()),
            hex_of(
                input
                    .session_context
                    .as_deref()
                    .unwrap_or_default()
                    .as_bytes()
            ),
        );
        Ok(CreateStreamingURLResult {
            streaming_url: Some(format!(
                "{}/stream/{}",
                self.public_url,
                token::seal(&self.token_key, &text)
            )),
            expires: Some(Timestamp(expires)),
        })
    }

    /// Checks `ApplicationId` against the fleet: `Desktop` needs the DESKTOP stream view, any
    /// other id must be an application of the fleet's image. The launch path of that
    /// application, if any.
    async fn streamed_application(
        &self,
        fleet: &photon_store::FleetRecord,
        application: Option<&str>,
    ) -> Result<Option<String>, CoreError> {
        let Some(app) = application else {
            return Ok(None);
        };
        if app == "Desktop" {
            if fleet.attrs.stream_view != StreamView::Desktop.as_str() {
                return Err(CoreError::InvalidCombination(format!(
                    "ApplicationId Desktop needs a fleet with the DESKTOP stream view, and fleet \
                     '{}' streams applications (APP); name one of its image's applications, or \
                     update the fleet's StreamView",
                    fleet.name
                )));
            }
            return Ok(None);
        }
        let image = match crate::arn::Arn::parse(&fleet.image_arn) {
            Some(a) => {
                self.store
                    .image(Key::new(&a.region, &a.account, &a.name))
                    .await?
            }
            None => None,
        };
        let found = image.as_ref().and_then(|row| {
            row.image
                .attrs
                .applications
                .iter()
                .find(|a| a.name == app)
                .map(|a| a.launch_path.clone())
        });
        match found {
            Some(path) => Ok(Some(path)),
            None => Err(CoreError::NotFound(format!(
                "application '{app}' is not in the application catalog of fleet '{}''s image{}; \
                 name one of its applications, or leave ApplicationId out",
                fleet.name,
                image.map_or_else(String::new, |row| {
                    let names: Vec<&str> = row
                        .image
                        .attrs
                        .applications
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect();
                    if names.is_empty() {
                        " (it has none)".to_owned()
                    } else {
                        format!(" ({})", names.join(", "))
                    }
                })
            ))),
        }
    }

    /// The agent a session's instance runs: the newest in the feed when its image uses the
    /// latest agent (decided when the instance was provisioned, i.e. now), else the image's.
    pub async fn instance_agent(&self, s: &SessionRecord) -> Result<Option<String>, CoreError> {
        let Some(a) = crate::arn::Arn::parse(&s.image_arn) else {
            return Ok(None);
        };
        let Some(row) = self
            .store
            .image(Key::new(&a.region, &a.account, &a.name))
            .await?
        else {
            return Ok(None);
        };
        if row.image.attrs.latest_appstream_agent_version {
            return Ok(Some(self.agent_versions().await?.0));
        }
        Ok(row.image.attrs.appstream_agent_version)
    }

    /// The sealed credential of a session's heartbeats (see [`Service::session_heartbeat`]):
    /// good for that session only.
    pub fn session_heartbeat_token(&self, s: &SessionRecord) -> String {
        token::seal(
            &self.token_key,
            &format!("session|{}|{}|{}", s.owner, s.region, s.id),
        )
    }

    /// The user's streaming page is still open, and its user gave input since the last beat
    /// when `input`: the disconnect timeout starts again, and input also starts the idle
    /// timeout again (reconnecting a user it disconnected).
    pub async fn session_heartbeat(
        &self,
        token_text: &str,
        input: bool,
    ) -> Result<Connection, CoreError> {
        let forged = || CoreError::NotPermitted("this session token is not valid".into());
        let text = token::unseal(&self.token_key, token_text).ok_or_else(forged)?;
        let parts: Vec<&str> = text.split('|').collect();
        let ["session", account, region, id] = parts.as_slice() else {
            return Err(forged());
        };
        let ended = || {
            CoreError::NotFound("this streaming session has ended; open a new streaming URL".into())
        };
        let now = self.now();
        if !self
            .store
            .touch_session(region, account, id, now, input)
            .await?
        {
            return Err(ended());
        }
        let s = self
            .store
            .session(region, account, id)
            .await?
            .ok_or_else(ended)?;
        let idle = self
            .store
            .fleet(Key::new(region, account, &s.fleet))
            .await?
            .and_then(|f| idle_after_ms(f.attrs.idle_disconnect_timeout_in_seconds));
        Ok(match idle_since(&s, idle, now) {
            Some(_) => Connection::Idle,
            None => Connection::Connected,
        })
    }

    /// Opens a streaming URL: the URL's token is the credential, good once and until it expires.
    pub async fn open_stream(
        &self,
        token_text: &str,
    ) -> Result<(SessionRecord, StreamRequest), CoreError> {
        let forged = || CoreError::NotPermitted("this streaming URL is not valid".into());
        let text = token::unseal(&self.token_key, token_text).ok_or_else(forged)?;
        let parts: Vec<&str> = text.split('|').collect();
        let ["stream", account, region, stack, fleet, user, expires, id, app, launch, context] =
            parts.as_slice()
        else {
            return Err(forged());
        };
        let text_of = |h: &str| -> Result<Option<String>, CoreError> {
            let bytes = (0..h.len())
                .step_by(2)
                .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(forged)?;
            let s = String::from_utf8(bytes).map_err(|_| forged())?;
            Ok((!s.is_empty()).then_some(s))
        };
        let mut request = StreamRequest {
            application: text_of(app)?,
            launch_path: text_of(launch)?,
            session_context: text_of(context)?,
            stream_view: StreamView::App.as_str().to_owned(),
        };
        let expires: i64 = expires.parse().map_err(|_| forged())?;
        let now = self.now();
        if now > expires {
            return Err(CoreError::NotPermitted(
                "this streaming URL has expired; ask for a new one (CreateStreamingURL)".into(),
            ));
        }
        // One transaction, under the fleet's lock so two sessions cannot take its last
        // instance: the fleet as it is now, the URL's one use, the capacity check, the session
        // and the job that ends it.
        let key = Key::new(region, account, fleet);
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::Fleet(crate::fleet::fleet_arn(
            region, account, fleet,
        )))
        .await?;
        let Some(f) = tx.fleet(key).await? else {
            return Err(CoreError::NotFound(format!(
                "fleet '{fleet}' no longer exists"
            )));
        };
        if !tx.use_streaming_url(id, now).await? {
            return Err(CoreError::NotPermitted(
                "this streaming URL was already used; each URL starts one session".into(),
            ));
        }
        let active = tx.count_fleet_sessions(key).await?;
        if f.state != photon_types::FleetState::Running
            || active >= i64::from(f.attrs.desired_instances)
        {
            // The URL stays used: a streaming URL works once, whatever happens.
            tx.commit().await?;
            return Err(CoreError::LimitExceeded(format!(
                "fleet '{fleet}' has no instance available right now; try again later or raise its capacity"
            )));
        }
        request.stream_view = f.attrs.stream_view.clone();
        let max_user = i64::from(f.attrs.max_user_duration_in_seconds);
        let disconnect = i64::from(f.attrs.disconnect_timeout_in_seconds);
        let session = SessionRecord {
            id: format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                rand::random::<u32>(),
                rand::random::<u16>(),
                rand::random::<u16>() & 0xfff,
                rand::random::<u16>() & 0xfff,
                rand::random::<u64>() & 0xffff_ffff_ffff
            ),
            region: (*region).to_owned(),
            owner: (*account).to_owned(),
            stack: (*stack).to_owned(),
            fleet: (*fleet).to_owned(),
            user_id: (*user).to_owned(),
            instance_id: format!("i-0{:016x}", rand::random::<u64>()),
            image_arn: f.image_arn.clone(),
            started_at: now,
            expires_at: now.saturating_add(max_user.saturating_mul(1000)),
            last_seen: now,
            last_input: now,
        };
        // The session ends by itself when its time is up or its user has been gone for the
        // disconnect timeout: a durable job, first due at the earlier of the two.
        let end_job = SessionJobs::job(
            account,
            region,
            &photon_store::ResourceKind::Session.arn(region, account, &session.id),
            &SessionEnd {
                session_id: session.id.clone(),
            },
            session
                .expires_at
                .min(now.saturating_add(disconnect.saturating_mul(1000))),
            10,
        );
        tx.insert_session(&session).await?;
        tx.enqueue(&end_job).await?;
        tx.commit().await?;
        Ok((session, request))
    }

    pub async fn describe_sessions(
        &self,
        cx: &Caller,
        input: DescribeSessionsRequest,
    ) -> Result<DescribeSessionsResult, CoreError> {
        // The model: 20 by default, at most 50.
        let page = match input.limit {
            None | Some(0) => 20,
            Some(n) if (1..=50).contains(&n) => n as usize,
            Some(n) => {
                return Err(CoreError::Invalid(format!(
                    "Limit must be between 1 and 50, not {n}"
                )))
            }
        };
        // The model: "If you specify a user ID, you must also specify the authentication type."
        if input.user_id.is_some() && input.authentication_type.is_none() {
            return Err(CoreError::InvalidCombination(
                "UserId needs AuthenticationType too; give AuthenticationType API for the \
                 sessions of streaming URLs"
                    .into(),
            ));
        }
        // Every Photon session comes from a streaming URL: authentication type API.
        let api_only = input
            .authentication_type
            .is_none_or(|t| t == AuthenticationType::Api);
        let mut parts = vec![
            cx.account_id.as_str(),
            cx.region.as_str(),
            "sessions",
            input.stack_name.as_str(),
            input.fleet_name.as_str(),
        ];
        parts.extend(input.user_id.as_deref());
        parts.push("|");
        parts.extend(input.instance_id.as_deref());
        let fp = token::fingerprint(&parts);
        let now = self.now();
        let after = token::resume(&self.token_key, input.next_token.as_deref(), &fp, now)?;
        let idle = self
            .store
            .fleet(Key::new(&cx.region, &cx.account_id, &input.fleet_name))
            .await?
            .and_then(|f| idle_after_ms(f.attrs.idle_disconnect_timeout_in_seconds));
        // Sessions are listed in start order; the key makes a page resume exactly after the
        // last one shown, whatever starts or ends meanwhile.
        let mut rows: Vec<(String, SessionRecord)> = self
            .store
            .sessions(&cx.region, &cx.account_id, &input.fleet_name)
            .await?
            .into_iter()
            .filter(|s| api_only && s.stack == input.stack_name && s.expires_at > now)
            .filter(|s| input.user_id.as_ref().is_none_or(|u| *u == s.user_id))
            .filter(|s| {
                input
                    .instance_id
                    .as_ref()
                    .is_none_or(|i| *i == s.instance_id)
            })
            .map(|s| (format!("{:016x}{}", s.started_at.max(0), s.id), s))
            .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows.truncate(page + 1);
        let next_token = token::cut_page(&mut rows, page, &self.token_key, &fp, now);
        Ok(DescribeSessionsResult {
            sessions: Some(
                rows.into_iter()
                    .map(|(_, s)| to_api(s, idle, now))
                    .collect(),
            ),
            next_token,
        })
    }

    pub async fn expire_session(
        &self,
        cx: &Caller,
        input: ExpireSessionRequest,
    ) -> Result<(), CoreError> {
        // The model lists no error for ExpireSession: a session already ended, or never
        // started, is what the caller asked for, so scripts can expire without checking first
        // (docs/compatibility.md).
        let ended = self
            .store
            .end_session(&cx.region, &cx.account_id, &input.session_id)
            .await?;
        if !ended {
            tracing::debug!(session = %input.session_id, "ExpireSession: no such active session");
        }
        Ok(())
    }

    /// Active sessions of a fleet (the instances in use).
    pub(crate) async fn sessions_in_use(
        &self,
        region: &str,
        owner: &str,
        fleet: &str,
    ) -> Result<i32, CoreError> {
        let now = self.now();
        let n = self
            .store
            .sessions(region, owner, fleet)
            .await?
            .iter()
            .filter(|s| s.expires_at > now)
            .count();
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

/// Ends sessions whose `MaxUserDurationInSeconds` has passed, or whose user has been gone (no
/// heartbeat from the streaming page, or disconnected by the fleet's idle timeout) for the
/// fleet's `DisconnectTimeoutInSeconds`: the session
/// goes, and with it the instance it held, so the fleet's capacity is free for the next user.
/// Until then the job sleeps to the earlier of the two moments. Ending a session that
/// `ExpireSession` ended first changes nothing.
pub struct SessionJobs {
    svc: Service,
}

impl SessionJobs {
    pub fn new(svc: Service) -> std::sync::Arc<Typed<SessionJobs>> {
        std::sync::Arc::new(Typed(SessionJobs { svc }))
    }

    async fn step(&self, job: &JobRecord, end: &SessionEnd) -> Result<Step, CoreError> {
        let store = &self.svc.store;
        let (region, account, id) = (&job.region, &job.account_id, &end.session_id);
        let Some(s) = store.session(region, account, id).await? else {
            return Ok(Step::Done);
        };
        // A fleet deleted under a session cannot hold it any longer.
        let fleet = store.fleet(Key::new(region, account, &s.fleet)).await?;
        let disconnect = fleet
            .as_ref()
            .map_or(0, |f| i64::from(f.attrs.disconnect_timeout_in_seconds));
        let idle = fleet
            .as_ref()
            .and_then(|f| idle_after_ms(f.attrs.idle_disconnect_timeout_in_seconds));
        let gone_at = gone_at(&s, idle, disconnect.saturating_mul(1000));
        let now = self.svc.now();
        if now < s.expires_at && now < gone_at {
            let next = s.expires_at.min(gone_at).saturating_sub(now);
            return Ok(Step::Continue {
                after: std::time::Duration::from_millis(u64::try_from(next).unwrap_or(0)),
            });
        }
        if store.end_session(region, account, id).await? {
            let why = if now >= s.expires_at {
                "reached the fleet's maximum session duration"
            } else if idle_since(&s, idle, now).is_some() {
                "was idle for the fleet's idle disconnect timeout, then its disconnect timeout"
            } else {
                "was disconnected for the fleet's disconnect timeout"
            };
            tracing::info!(session = %id, fleet = %s.fleet, "session {why} and ended");
        }
        Ok(Step::Done)
    }
}

impl JobKind for SessionJobs {
    const KIND: &'static str = JOB_KIND;
    type Payload = SessionEnd;

    fn run<'a>(&'a self, job: &'a JobRecord, end: &'a SessionEnd) -> BoxFuture<'a, Step> {
        Box::pin(async move { or_retry(self.step(job, end).await) })
    }

    fn give_up<'a>(
        &'a self,
        _: &'a JobRecord,
        end: &'a SessionEnd,
        error: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Listings and capacity already ignore a session past its end; the row stays.
            tracing::error!(session = %end.session_id, error, "could not end a session at its maximum duration");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::idle_after_ms;

    /// The model's examples: 70 disconnects after 1 minute, 90 (a midpoint) after 2.
    #[test]
    fn idle_timeouts_round_to_the_nearest_minute() {
        assert_eq!(idle_after_ms(0), None);
        assert_eq!(idle_after_ms(60), Some(60_000));
        assert_eq!(idle_after_ms(70), Some(60_000));
        assert_eq!(idle_after_ms(89), Some(60_000));
        assert_eq!(idle_after_ms(90), Some(120_000));
        assert_eq!(idle_after_ms(36_000), Some(36_000_000));
    }
}
