//! `aws_appstream_fleet_stack_association` as the Terraform AWS provider drives it, replayed
//! through the SDK in both protocols: AssociateFleet, reads through ListAssociatedStacks of the
//! fleet (the stack named exactly once), import from the ID `fleet/stack`, and destroy with
//! DisassociateFleet, after which the read finds no association.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use aws_sdk_appstream::types::ComputeCapacity;
use aws_sdk_appstream::Client;
use common::{bin, failure};
use photon_testkit::{Photon, BOTH};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";

/// The provider's finder: the stack among the fleet's associated stacks, exactly once.
async fn associated(c: &Client, id: &str) -> bool {
    let (fleet, stack) = id.split_once('/').expect("ID is FleetName/StackName");
    let mut found = 0;
    let mut token = None;
    loop {
        let page = c
            .list_associated_stacks()
            .fleet_name(fleet)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        found += page.names().iter().filter(|n| *n == stack).count();
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert!(found <= 1, "the stack is listed {found} times");
    found == 1
}

/// AssociateFleet.FleetName AssociateFleet.StackName DisassociateFleet.FleetName
/// DisassociateFleet.StackName ListAssociatedStacks.FleetName ListAssociatedStacks.NextToken
/// ListAssociatedFleets.StackName
#[tokio::test]
async fn terraform_association_create_read_import_destroy() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let fleet = format!("tf-fleet-{proto:?}").to_lowercase();
        let stack = format!("tf-stack-{proto:?}").to_lowercase();
        c.create_fleet()
            .name(&fleet)
            .image_name(BASE)
            .instance_type("stream.standard.small")
            .compute_capacity(ComputeCapacity::builder().desired_instances(1).build())
            .send()
            .await
            .unwrap();
        c.create_stack().name(&stack).send().await.unwrap();

        c.associate_fleet()
            .fleet_name(&fleet)
            .stack_name(&stack)
            .send()
            .await
            .unwrap();
        let id = format!("{fleet}/{stack}");
        assert!(associated(&c, &id).await);
        assert!(associated(&c, &id).await, "a second read drifted");
        let fleets = c
            .list_associated_fleets()
            .stack_name(&stack)
            .send()
            .await
            .unwrap();
        assert_eq!(fleets.names(), std::slice::from_ref(&fleet));
        // Import reads the same ID.
        assert!(associated(&c, &id).await);

        c.disassociate_fleet()
            .fleet_name(&fleet)
            .stack_name(&stack)
            .send()
            .await
            .unwrap();
        assert!(!associated(&c, &id).await, "gone after destroy");
        // A second destroy finds nothing to disassociate, which the provider treats as done.
        let (code, ..) = failure(
            c.disassociate_fleet()
                .fleet_name(&fleet)
                .stack_name(&stack)
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException");
    }
}
