//! AppStream ARNs: `arn:aws:appstream:REGION:ACCOUNT:TYPE/NAME`, with an empty account for
//! AWS-owned public images (SPEC.md §2.2).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub region: String,
    pub account: String,
    pub resource_type: String,
    pub name: String,
}

impl Arn {
    pub fn image(region: &str, owner: &str, name: &str) -> String {
        photon_store::ResourceKind::Image.arn(region, owner, name)
    }

    pub fn parse(s: &str) -> Option<Arn> {
        let mut parts = s.splitn(6, ':');
        let (arn, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
        let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
        if arn != "arn" || partition != "aws" || service != "appstream" {
            return None;
        }
        let (resource_type, name) = resource.split_once('/')?;
        if resource_type.is_empty() || name.is_empty() {
            return None;
        }
        Some(Arn {
            region: region.to_owned(),
            account: account.to_owned(),
            resource_type: resource_type.to_owned(),
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = Arn::image("us-east-1", "", "AppStream-WinServer2022-11-10-2025");
        assert_eq!(
            s,
            "arn:aws:appstream:us-east-1::image/AppStream-WinServer2022-11-10-2025"
        );
        let a = Arn::parse(&s).unwrap();
        assert_eq!(a.account, "");
        assert_eq!(a.resource_type, "image");
        assert!(Arn::parse("arn:aws:s3:::bucket").is_none());
        assert!(Arn::parse("arn:aws:appstream:us-east-1:123:image").is_none());
    }
}
