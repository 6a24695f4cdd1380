//! Stacks: their settings (application settings persistence included), and the one fleet
//! each stack streams from.

use std::collections::BTreeMap;

use photon_store::{Doc, Key, LockKey, ResourceKind, StackAttrs, StackRecord, StoreError, WriteTx};
use photon_types::{
    AccessEndpoint, Action, AgentAccessConfig, AgentAccessConfigForUpdate,
    ApplicationSettingsResponse, AssociateFleetRequest, Caller, ContentRedirection,
    CreateStackRequest, DeleteStackRequest, DescribeStacksRequest, DescribeStacksResult,
    DisassociateFleetRequest, Encode, ListAssociatedFleetsRequest, ListAssociatedFleetsResult,
    ListAssociatedStacksRequest, ListAssociatedStacksResult, Permission, Stack, StackAttribute,
    StorageConnector, StorageConnectorAuthentication, StorageConnectorType,
    StreamingExperienceSettings, Timestamp, UpdateStackRequest, UserSetting, WebAuthnRedirection,
};

use crate::doc::{from_doc, from_doc_list, to_doc};
use crate::{CoreError, Service};

/// The keys of `StackAttrs::settings`: the model's member names.
const STORAGE_CONNECTORS: &str = "StorageConnectors";
const USER_SETTINGS: &str = "UserSettings";
const ACCESS_ENDPOINTS: &str = "AccessEndpoints";
const STREAMING_EXPERIENCE: &str = "StreamingExperienceSettings";
const CONTENT_REDIRECTION: &str = "ContentRedirection";
const WEB_AUTHN_REDIRECTION: &str = "WebAuthnRedirection";
const AGENT_ACCESS_CONFIG: &str = "AgentAccessConfig";

pub fn stack_arn(region: &str, owner: &str, name: &str) -> String {
    photon_store::ResourceKind::Stack.arn(region, owner, name)
}

fn not_found(name: &str, region: &str) -> CoreError {
    CoreError::NotFound(format!(
        "stack '{name}' does not exist in {region}; list yours with DescribeStacks"
    ))
}

/// The user settings a stack reports: every action of the model, ENABLED unless the stack set
/// it otherwise ("By default, these actions are enabled"), so a stack created without them
/// reads back the same list AWS returns.
fn effective_user_settings(given: Vec<UserSetting>) -> Vec<UserSetting> {
    Action::VALUES
        .iter()
        .filter_map(|a| Action::from_wire(a))
        .map(|action| {
            given
                .iter()
                .find(|s| s.action == action)
                .cloned()
                .unwrap_or(UserSetting {
                    action,
                    permission: Permission::Enabled,
                    maximum_length: None,
                })
        })
        .collect()
}

fn setting<T: photon_types::Decode>(a: &StackAttrs, key: &str) -> Result<Option<T>, CoreError> {
    a.settings.get(key).map(|d| from_doc(d, key)).transpose()
}

fn setting_list<T: photon_types::Decode>(
    a: &StackAttrs,
    key: &str,
) -> Result<Option<Vec<T>>, CoreError> {
    a.settings
        .get(key)
        .map(|d| from_doc_list(d, key))
        .transpose()
}

fn put<T: Encode>(a: &mut StackAttrs, key: &str, v: Option<T>) {
    if let Some(v) = v {
        a.settings.insert(key.to_owned(), to_doc(v));
    }
}

pub fn to_api(st: StackRecord) -> Result<Stack, CoreError> {
    let a = st.attrs;
    Ok(Stack {
        arn: Some(st.arn),
        name: st.name,
        description: a.description.clone(),
        display_name: a.display_name.clone(),
        created_time: Some(Timestamp(st.created_at)),
        redirect_url: a.redirect_url.clone(),
        feedback_url: a.feedback_url.clone(),
        embed_host_domains: (!a.embed_host_domains.is_empty())
            .then(|| a.embed_host_domains.clone()),
        // A stack without persistence reports it disabled, as AWS does (Terraform reads
        // `enabled = false` back for a stack created without the block).
        application_settings: Some({
            let (enabled, group) = a.application_settings.clone().unwrap_or((false, None));
            ApplicationSettingsResponse {
                enabled: Some(enabled),
                settings_group: group,
                s3_bucket_name: enabled
                    .then(|| format!("appstream-app-settings-{}-{}", st.region, st.owner)),
            }
        }),
        storage_connectors: setting_list::<StorageConnector>(&a, STORAGE_CONNECTORS)?,
        user_settings: Some(effective_user_settings(
            setting_list(&a, USER_SETTINGS)?.unwrap_or_default(),
        )),
        access_endpoints: setting_list::<AccessEndpoint>(&a, ACCESS_ENDPOINTS)?,
        streaming_experience_settings: setting::<StreamingExperienceSettings>(
            &a,
            STREAMING_EXPERIENCE,
        )?,
        content_redirection: setting::<ContentRedirection>(&a, CONTENT_REDIRECTION)?,
        web_authn_redirection: setting::<WebAuthnRedirection>(&a, WEB_AUTHN_REDIRECTION)?,
        agent_access_config: setting::<AgentAccessConfig>(&a, AGENT_ACCESS_CONFIG)?,
        storage_connector_authentication: a
            .storage_connector_authentication
            .as_deref()
            .and_then(StorageConnectorAuthentication::from_wire),
        // Photon's connectors have no storage behind them that could fail to connect, so no
        // stack reports an error (docs/compatibility.md).
        stack_errors: None,
    })
}

/// Connectors are one per type (the console's checkboxes); a type given twice is a mistake.
fn check_connectors(connectors: &[StorageConnector]) -> Result<(), CoreError> {
    for (i, c) in connectors.iter().enumerate() {
        if connectors[..i]
            .iter()
            .any(|o| o.connector_type == c.connector_type)
        {
            return Err(CoreError::InvalidCombination(format!(
                "StorageConnectors names {} twice; give each connector type once",
                c.connector_type.as_str()
            )));
        }
    }
    Ok(())
}

/// What a stack streaming from a Linux fleet cannot have (set-up-stacks-fleets.md): Google
/// Drive, OneDrive and application settings persistence. `None` when it has none of them.
fn linux_conflicts(a: &StackAttrs) -> Result<Option<String>, CoreError> {
    let mut found = Vec::new();
    for c in setting_list::<StorageConnector>(a, STORAGE_CONNECTORS)?.unwrap_or_default() {
        if matches!(
            c.connector_type,
            StorageConnectorType::GoogleDrive | StorageConnectorType::OneDrive
        ) {
            found.push(format!(
                "the {} storage connector",
                c.connector_type.as_str()
            ));
        }
    }
    if matches!(a.application_settings, Some((true, _))) {
        found.push("application settings persistence".to_owned());
    }
    Ok((!found.is_empty()).then(|| found.join(" and ")))
}

/// `AgentAccessConfigForUpdate` laid over the stack's current configuration: the members given
/// replace those the stack has. The result must be a whole `AgentAccessConfig`.
fn merged_agent_access(
    current: Option<&Doc>,
    update: AgentAccessConfigForUpdate,
) -> Result<Doc, CoreError> {
    let mut merged = match current {
        Some(Doc::Map(m)) => m.clone(),
        _ => BTreeMap::new(),
    };
    if let Doc::Map(given) = to_doc(update) {
        merged.extend(given);
    }
    let doc = Doc::Map(merged);
    if from_doc::<AgentAccessConfig>(&doc, AGENT_ACCESS_CONFIG).is_err() {
        return Err(CoreError::InvalidCombination(
            "AgentAccessConfig needs Settings, ScreenResolution and ScreenImageFormat when the \
             stack has no agent access configuration yet; give all three"
                .into(),
        ));
    }
    Ok(doc)
}

/// A fleet of the caller's, read under its lock (taken after the stack's, in `LockKey` order).
async fn locked_fleet(
    tx: &mut dyn WriteTx,
    cx: &Caller,
    name: &str,
) -> Result<Option<photon_store::FleetRecord>, CoreError> {
    tx.lock(LockKey::Fleet(ResourceKind::Fleet.arn(
        &cx.region,
        &cx.account_id,
        name,
    )))
    .await?;
    Ok(tx.fleet(Key::new(&cx.region, &cx.account_id, name)).await?)
}

impl Service {
    pub async fn create_stack(
        &self,
        cx: &Caller,
        input: CreateStackRequest,
    ) -> Result<Stack, CoreError> {
        let record = StackRecord {
            region: cx.region.clone(),
            owner: cx.account_id.clone(),
            name: input.name.clone(),
            arn: stack_arn(&cx.region, &cx.account_id, &input.name),
            created_at: self.now(),
            attrs: StackAttrs {
                v: 1,
                description: input.description,
                display_name: input.display_name,
                redirect_url: input.redirect_url,
                feedback_url: input.feedback_url,
                application_settings: input
                    .application_settings
                    .map(|s| (s.enabled, s.settings_group)),
                embed_host_domains: input.embed_host_domains.unwrap_or_default(),
                settings: BTreeMap::new(),
                storage_connector_authentication: input
                    .storage_connector_authentication
                    .map(|a| a.as_str().to_owned()),
            },
        };
        let mut record = record;
        if let Some(c) = &input.storage_connectors {
            check_connectors(c)?;
        }
        let a = &mut record.attrs;
        put(a, STORAGE_CONNECTORS, input.storage_connectors);
        put(a, USER_SETTINGS, input.user_settings);
        put(a, ACCESS_ENDPOINTS, input.access_endpoints);
        put(a, STREAMING_EXPERIENCE, input.streaming_experience_settings);
        put(a, CONTENT_REDIRECTION, input.content_redirection);
        put(a, WEB_AUTHN_REDIRECTION, input.web_authn_redirection);
        put(a, AGENT_ACCESS_CONFIG, input.agent_access_config);
        let quota = self.quota(&cx.account_id, &cx.region, "stacks").await?;
        let (account, region) = (&cx.account_id, &cx.region);
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::account_stacks(account, region)).await?;
        let in_use = tx.count_stacks(region, account).await?;
        crate::quota::check_creation(account, region, "stacks", quota, in_use, "delete a stack")?;
        match tx.insert_stack(&record).await {
            Err(StoreError::Conflict) => {
                return Err(crate::quota::name_taken("a stack", &input.name, region))
            }
            other => other?,
        }
        tx.insert_tags(&record.arn, &input.tags.unwrap_or_default())
            .await?;
        tx.commit().await?;
        to_api(record)
    }

    pub async fn describe_stacks(
        &self,
        cx: &Caller,
        input: DescribeStacksRequest,
    ) -> Result<DescribeStacksResult, CoreError> {
        const PAGE: u32 = 25;
        if let Some(names) = input.names.filter(|n| !n.is_empty()) {
            let mut out = Vec::new();
            for n in &names {
                let st = self
                    .store
                    .stack(Key::new(&cx.region, &cx.account_id, n))
                    .await?
                    .ok_or_else(|| not_found(n, &cx.region))?;
                out.push(to_api(st)?);
            }
            return Ok(DescribeStacksResult {
                stacks: Some(out),
                next_token: None,
            });
        }
        let (rows, next_token) = self
            .owned_page(
                cx,
                "stacks",
                input.next_token.as_deref(),
                PAGE,
                |after, limit| async move {
                    self.store
                        .list_stacks(&cx.region, &cx.account_id, after.as_deref(), limit)
                        .await
                },
            )
            .await?;
        Ok(DescribeStacksResult {
            stacks: Some(rows.into_iter().map(to_api).collect::<Result<_, _>>()?),
            next_token,
        })
    }

    pub async fn update_stack(
        &self,
        cx: &Caller,
        input: UpdateStackRequest,
    ) -> Result<Stack, CoreError> {
        // Read, change and write under the stack's lock, so a concurrent UpdateStack or
        // AssociateFleet is never overwritten or slipped past the Linux check.
        let key = Key::new(
            cx.region.as_str(),
            cx.account_id.as_str(),
            input.name.as_str(),
        );
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::Stack(
            ResourceKind::Stack.arn(key.region, key.owner, key.name),
        ))
        .await?;
        let mut st = tx
            .stack(key)
            .await?
            .ok_or_else(|| not_found(&input.name, &cx.region))?;
        let a = &mut st.attrs;
        if input.description.is_some() {
            a.description = input.description;
        }
        if input.display_name.is_some() {
            a.display_name = input.display_name;
        }
        if input.redirect_url.is_some() {
            a.redirect_url = input.redirect_url;
        }
        if input.feedback_url.is_some() {
            a.feedback_url = input.feedback_url;
        }
        if let Some(s) = input.application_settings {
            a.application_settings = Some((s.enabled, s.settings_group));
        }
        if let Some(d) = input.embed_host_domains {
            a.embed_host_domains = d;
        }
        if let Some(c) = &input.storage_connectors {
            check_connectors(c)?;
        }
        put(a, STORAGE_CONNECTORS, input.storage_connectors);
        if let Some(given) = input.user_settings {
            // Settings given replace those of the same action; the others stay as they were.
            let mut merged: Vec<UserSetting> = setting_list(a, USER_SETTINGS)?.unwrap_or_default();
            merged.retain(|s| given.iter().all(|g| g.action != s.action));
            merged.extend(given);
            put(a, USER_SETTINGS, Some(merged));
        }
        put(a, ACCESS_ENDPOINTS, input.access_endpoints);
        put(a, STREAMING_EXPERIENCE, input.streaming_experience_settings);
        put(a, CONTENT_REDIRECTION, input.content_redirection);
        put(a, WEB_AUTHN_REDIRECTION, input.web_authn_redirection);
        if let Some(u) = input.agent_access_config {
            let merged = merged_agent_access(a.settings.get(AGENT_ACCESS_CONFIG), u)?;
            a.settings.insert(AGENT_ACCESS_CONFIG.to_owned(), merged);
        }
        if let Some(v) = input.storage_connector_authentication {
            a.storage_connector_authentication = Some(v.as_str().to_owned());
        }
        let mut to_delete = input.attributes_to_delete.unwrap_or_default();
        // The deprecated DeleteStorageConnectors says what STORAGE_CONNECTORS says.
        if input.delete_storage_connectors == Some(true) {
            to_delete.push(StackAttribute::StorageConnectors);
        }
        for attr in to_delete {
            let drop_connector = |a: &mut StackAttrs, t: StorageConnectorType| {
                let kept: Vec<StorageConnector> = setting_list(a, STORAGE_CONNECTORS)?
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c: &StorageConnector| c.connector_type != t)
                    .collect();
                if kept.is_empty() {
                    a.settings.remove(STORAGE_CONNECTORS);
                } else {
                    put(a, STORAGE_CONNECTORS, Some(kept));
                }
                Ok::<(), CoreError>(())
            };
            match attr {
                StackAttribute::StorageConnectors => {
                    a.settings.remove(STORAGE_CONNECTORS);
                }
                StackAttribute::StorageConnectorHomefolders => {
                    drop_connector(a, StorageConnectorType::Homefolders)?
                }
                StackAttribute::StorageConnectorGoogleDrive => {
                    drop_connector(a, StorageConnectorType::GoogleDrive)?
                }
                StackAttribute::StorageConnectorOneDrive => {
                    drop_connector(a, StorageConnectorType::OneDrive)?
                }
                StackAttribute::RedirectUrl => a.redirect_url = None,
                StackAttribute::FeedbackUrl => a.feedback_url = None,
                StackAttribute::UserSettings => {
                    a.settings.remove(USER_SETTINGS);
                }
                StackAttribute::EmbedHostDomains => a.embed_host_domains.clear(),
                StackAttribute::AccessEndpoints => {
                    a.settings.remove(ACCESS_ENDPOINTS);
                }
                StackAttribute::StreamingExperienceSettings => {
                    a.settings.remove(STREAMING_EXPERIENCE);
                }
                StackAttribute::ContentRedirection => {
                    a.settings.remove(CONTENT_REDIRECTION);
                }
                StackAttribute::WebAuthnRedirection => {
                    a.settings.remove(WEB_AUTHN_REDIRECTION);
                }
                StackAttribute::AgentAccessConfig => {
                    a.settings.remove(AGENT_ACCESS_CONFIG);
                }
                StackAttribute::AgentAccessConfigKmsKeyArn => {
                    if let Some(Doc::Map(m)) = a.settings.get_mut(AGENT_ACCESS_CONFIG) {
                        m.remove("KmsKeyArn");
                    }
                }
                StackAttribute::StorageConnectorAuthentication => {
                    a.storage_connector_authentication = None
                }
                // Stacks have no IAM role and Photon has no themes yet (CreateThemeForStack):
                // there is nothing of either to delete.
                StackAttribute::IamRoleArn | StackAttribute::ThemeName => {}
            }
        }
        // A stack streaming from a Linux fleet keeps to what Linux sessions support.
        for fleet in tx.stack_fleets(key).await? {
            let linux = locked_fleet(tx.as_mut(), cx, &fleet)
                .await?
                .is_some_and(|f| !crate::content::is_windows(&f.attrs.platform));
            if let Some(what) = linux
                .then(|| linux_conflicts(&st.attrs))
                .transpose()?
                .flatten()
            {
                return Err(CoreError::Incompatible(format!(
                    "stack '{}' streams from Linux fleet '{fleet}', which does not support {what}; \
                     leave it out, or disassociate the fleet first",
                    input.name
                )));
            }
        }
        tx.put_stack(&st).await?;
        tx.commit().await?;
        to_api(st)
    }

    pub async fn delete_stack(
        &self,
        cx: &Caller,
        input: DeleteStackRequest,
    ) -> Result<(), CoreError> {
        // Under the stack's lock, so an AssociateFleet cannot slip in between the check and
        // the delete.
        let key = Key::new(
            cx.region.as_str(),
            cx.account_id.as_str(),
            input.name.as_str(),
        );
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::Stack(
            ResourceKind::Stack.arn(key.region, key.owner, key.name),
        ))
        .await?;
        let fleets = tx.stack_fleets(key).await?;
        if !fleets.is_empty() {
            return Err(CoreError::InUse(format!(
                "stack '{}' is associated with fleet {}; disassociate it with DisassociateFleet first",
                input.name,
                fleets.join(", ")
            )));
        }
        if !tx.delete_stack(key).await? {
            return Err(not_found(&input.name, &cx.region));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn associate_fleet(
        &self,
        cx: &Caller,
        input: AssociateFleetRequest,
    ) -> Result<(), CoreError> {
        let key = Key::new(
            cx.region.as_str(),
            cx.account_id.as_str(),
            input.stack_name.as_str(),
        );
        // The stack's lock, then the fleet's: the check and the association are one
        // transaction, so an UpdateStack cannot add what a Linux fleet lacks in between.
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::Stack(
            ResourceKind::Stack.arn(key.region, key.owner, key.name),
        ))
        .await?;
        let Some(stack) = tx.stack(key).await? else {
            return Err(not_found(&input.stack_name, &cx.region));
        };
        let Some(fleet) = locked_fleet(tx.as_mut(), cx, &input.fleet_name).await? else {
            return Err(CoreError::NotFound(format!(
                "fleet '{}' does not exist in {}; list yours with DescribeFleets",
                input.fleet_name, cx.region
            )));
        };
        // A Linux fleet streams only stacks without what Linux sessions lack.
        if !crate::content::is_windows(&fleet.attrs.platform) {
            if let Some(what) = linux_conflicts(&stack.attrs)? {
                return Err(CoreError::Incompatible(format!(
                    "fleet '{}' runs {}, and Linux sessions do not support {what}, which \
                     stack '{}' has; remove it from the stack (UpdateStack \
                     AttributesToDelete) first",
                    input.fleet_name, fleet.attrs.platform, input.stack_name
                )));
            }
        }
        let current = tx.stack_fleets(key).await?;
        if current.contains(&input.fleet_name) {
            return Ok(());
        }
        if !current.is_empty() {
            return Err(CoreError::LimitExceeded(format!(
                "stack '{}' is already associated with another fleet; a stack streams from one fleet, so disassociate that one first",
                input.stack_name
            )));
        }
        tx.insert_stack_fleet(key, &input.fleet_name).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn disassociate_fleet(
        &self,
        cx: &Caller,
        input: DisassociateFleetRequest,
    ) -> Result<(), CoreError> {
        let key = Key::new(&cx.region, &cx.account_id, &input.stack_name);
        // The locks AssociateFleet and DeleteFleet take, in the same order, so the association
        // this ends is the one they see.
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::Stack(
            ResourceKind::Stack.arn(key.region, key.owner, key.name),
        ))
        .await?;
        locked_fleet(tx.as_mut(), cx, &input.fleet_name).await?;
        if !tx.delete_stack_fleet(key, &input.fleet_name).await? {
            return Err(CoreError::NotFound(format!(
                "fleet '{}' is not associated with stack '{}'",
                input.fleet_name, input.stack_name
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_associated_fleets(
        &self,
        cx: &Caller,
        input: ListAssociatedFleetsRequest,
    ) -> Result<ListAssociatedFleetsResult, CoreError> {
        // The whole list fits one answer, so no token is ever issued: one given is refused
        // as not issued here rather than ignored.
        self.resume_unpaged(cx, "associated-fleets", input.next_token.as_deref())?;
        let names = self
            .store
            .fleets_of_stack(&cx.region, &cx.account_id, &input.stack_name)
            .await?;
        Ok(ListAssociatedFleetsResult {
            names: Some(names),
            next_token: None,
        })
    }

    pub async fn list_associated_stacks(
        &self,
        cx: &Caller,
        input: ListAssociatedStacksRequest,
    ) -> Result<ListAssociatedStacksResult, CoreError> {
        // The whole list fits one answer, so no token is ever issued: one given is refused
        // as not issued here rather than ignored.
        self.resume_unpaged(cx, "associated-stacks", input.next_token.as_deref())?;
        let names = self
            .store
            .stacks_of_fleet(&cx.region, &cx.account_id, &input.fleet_name)
            .await?;
        Ok(ListAssociatedStacksResult {
            names: Some(names),
            next_token: None,
        })
    }
}
