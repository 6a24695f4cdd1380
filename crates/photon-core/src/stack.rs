//! Stacks: their settings (application settings persistence included), and the one fleet
//! each stack streams from.

use photon_store::{Association, StackAttrs, StackRecord, StoreError};
use photon_types::{
    ApplicationSettingsResponse, AssociateFleetRequest, Caller, CreateStackRequest,
    DeleteStackRequest, DescribeStacksRequest, DescribeStacksResult, DisassociateFleetRequest,
    ListAssociatedFleetsRequest, ListAssociatedFleetsResult, ListAssociatedStacksRequest,
    ListAssociatedStacksResult, Stack, Timestamp, UpdateStackRequest,
};

use crate::{CoreError, Service};

pub fn stack_arn(region: &str, owner: &str, name: &str) -> String {
    format!("arn:aws:appstream:{region}:{owner}:stack/{name}")
}

fn not_found(name: &str, region: &str) -> CoreError {
    CoreError::NotFound(format!(
        "stack '{name}' does not exist in {region}; list yours with DescribeStacks"
    ))
}

pub fn to_api(st: StackRecord) -> Stack {
    let a = st.attrs;
    Stack {
        arn: Some(st.arn),
        name: st.name,
        description: a.description,
        display_name: a.display_name,
        created_time: Some(Timestamp(st.created_at)),
        redirect_url: a.redirect_url,
        feedback_url: a.feedback_url,
        embed_host_domains: (!a.embed_host_domains.is_empty()).then_some(a.embed_host_domains),
        application_settings: a.application_settings.map(|(enabled, group)| {
            ApplicationSettingsResponse {
                enabled: Some(enabled),
                settings_group: group,
                s3_bucket_name: enabled
                    .then(|| format!("appstream-app-settings-{}-{}", st.region, st.owner)),
            }
        }),
        ..Default::default()
    }
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
            },
        };
        let quota = self.quota(&cx.account_id, &cx.region, "stacks").await?;
        match self.store.create_stack(&record, &input.tags.unwrap_or_default(), quota).await {
            Ok(()) => Ok(to_api(record)),
            Err(StoreError::Conflict) => Err(CoreError::AlreadyExists(format!(
                "a stack named '{}' already exists in {}; pick another name",
                input.name, cx.region
            ))),
            Err(StoreError::LimitReached(max)) => Err(CoreError::LimitExceeded(format!(
                "the quota of {max} stacks for account {} in {} is reached; delete a stack, or have the operator raise it with `photon quotas set --account-id {} --region {} stacks=N`",
                cx.account_id, cx.region, cx.account_id, cx.region
            ))),
            Err(e) => Err(e.into()),
        }
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
                    .stack(&cx.region, &cx.account_id, n)
                    .await?
                    .ok_or_else(|| not_found(n, &cx.region))?;
                out.push(to_api(st));
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
            stacks: Some(rows.into_iter().map(to_api).collect()),
            next_token,
        })
    }

    pub async fn update_stack(
        &self,
        cx: &Caller,
        input: UpdateStackRequest,
    ) -> Result<Stack, CoreError> {
        let mut st = self
            .store
            .stack(&cx.region, &cx.account_id, &input.name)
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
        if !self.store.put_stack(&st).await? {
            return Err(not_found(&input.name, &cx.region));
        }
        Ok(to_api(st))
    }

    pub async fn delete_stack(
        &self,
        cx: &Caller,
        input: DeleteStackRequest,
    ) -> Result<(), CoreError> {
        let fleets = self
            .store
            .fleets_of_stack(&cx.region, &cx.account_id, &input.name)
            .await?;
        if !fleets.is_empty() {
            return Err(CoreError::InUse(format!(
                "stack '{}' is associated with fleet {}; disassociate it with DisassociateFleet first",
                input.name,
                fleets.join(", ")
            )));
        }
        if !self
            .store
            .delete_stack((&cx.region, &cx.account_id, &input.name))
            .await?
        {
            return Err(not_found(&input.name, &cx.region));
        }
        Ok(())
    }

    pub async fn associate_fleet(
        &self,
        cx: &Caller,
        input: AssociateFleetRequest,
    ) -> Result<(), CoreError> {
        match self.store.associate_fleet(&cx.region, &cx.account_id, &input.stack_name, &input.fleet_name).await? {
            Association::Done => Ok(()),
            Association::NoStack => Err(not_found(&input.stack_name, &cx.region)),
            Association::NoFleet => Err(CoreError::NotFound(format!(
                "fleet '{}' does not exist in {}; list yours with DescribeFleets",
                input.fleet_name, cx.region
            ))),
            Association::StackTaken => Err(CoreError::LimitExceeded(format!(
                "stack '{}' is already associated with another fleet; a stack streams from one fleet, so disassociate that one first",
                input.stack_name
            ))),
        }
    }

    pub async fn disassociate_fleet(
        &self,
        cx: &Caller,
        input: DisassociateFleetRequest,
    ) -> Result<(), CoreError> {
        if !self
            .store
            .disassociate_fleet(
                &cx.region,
                &cx.account_id,
                &input.stack_name,
                &input.fleet_name,
            )
            .await?
        {
            return Err(CoreError::NotFound(format!(
                "fleet '{}' is not associated with stack '{}'",
                input.fleet_name, input.stack_name
            )));
        }
        Ok(())
    }

    pub async fn list_associated_fleets(
        &self,
        cx: &Caller,
        input: ListAssociatedFleetsRequest,
    ) -> Result<ListAssociatedFleetsResult, CoreError> {
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
