//! Catalogue of the AWS-owned **public** base images and of the AppStream instance families that
//! Photon seeds into every region.
//!
//! This module owns two static tables and nothing else:
//!
//! * [`BASE_IMAGES`]: the public base-image releases (`Visibility = PUBLIC`, empty account field
//!   in the ARN, SPEC §2.2) that `DescribeImages` shows in every region, several releases per
//!   `PlatformType` so that there is history;
//! * [`INSTANCE_FAMILIES`]: the `stream.*` instance types grouped by the family value used in
//!   `Image.SupportedInstanceFamilies`, so image/instance-type compatibility can be checked.
//!
//! It is data only: no state, no I/O, no dependencies beyond `core`. Region seeding, ARNs, image
//! state and deprecation handling belong to the callers.
//!
//! # Where the data comes from
//!
//! * Names, platforms and dates: SPEC §2.3 "Public base images: names, platforms, dates"; the
//!   release table of `docs/base-image-version-history.md` (dates and platforms only, the names
//!   are elided in that export); the naming patterns of `docs/instance-types.md`; and, as SPEC
//!   §2.3 does, the 2026 copies of the guide page "WorkSpaces Applications Base Image and Managed
//!   Image Update Release Notes" found in the public code index. A few older names are attested
//!   only by public IaC code and examples (marked `[X: …]`).
//! * Agent versions: SPEC §5 and `docs/agent-software-versions.md` (Windows agents 12-07-2017 to
//!   03-14-2022, Linux agents 11-15-2021 and 11-19-2021), extended with the later Windows agents
//!   (06-20-2022 to 06-29-2026) listed in a 2026 copy of the guide page "WorkSpaces Applications
//!   Agent Release Notes". Each image carries the newest agent released on or before its own
//!   release date.
//! * Instance types: the `InstanceType` member docs of `appstream-service-2.json` (current
//!   types) plus the retired `stream.graphics-design.*` / `stream.graphics-pro.*` types named by
//!   `docs/instance-types.md` and older versions of the same model. The deprecated Graphics
//!   Desktop family (`stream.graphics-desktop.2xlarge`) is left out: it has no images here.
//!
//! # Provenance markers on the rows
//!
//! * `// source:` the exact name is attested (SPEC, the guide, or public code, as cited);
//! * `// reconstructed:` the release date and platform come from the release notes and the name
//!   is built from the documented pattern for that family, but the exact name is not attested;
//! * `// synthetic:` the row is invented (plausible date, documented naming pattern);
//! * `// synthetic agent:` only the `agent_version` is invented.
//!
//! # `SupportedInstanceFamilies` values (INFERRED)
//!
//! The model documents `Image.SupportedInstanceFamilies` only with display names ("General
//! Purpose", "Compute Optimized", "Memory Optimized", "Graphics G4", "Graphics G5", "Graphics
//! G6"); the only wire spelling it gives is in `CreateApplication.InstanceFamilies`: "Valid values
//! are GENERAL_PURPOSE and GRAPHICS_G4". The values used here are the UPPER_SNAKE_CASE forms of
//! those display names; `GRAPHICS_G7`, `GRAPHICS_DESIGN` and `GRAPHICS_PRO` extend the same rule
//! to the families the guide names (Graphics G7 in the 2026 release notes; Graphics Design and
//! Graphics Pro in `docs/instance-types.md`). z1d types are part of Memory Optimized
//! (`docs/instance-types.md`); see [`Z1D_MIN_BASE_IMAGE_RELEASE`].
//!
//! Deprecated public images (SPEC §2.3: Windows images before 2021-09, Graphics Design / Pro
//! families, Amazon Linux 2 after 2026-04-15, …) are kept for history; how they surface in
//! `DescribeImages` is SILENT in the sources and is decided by the caller.

/// One public base image release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseImage {
    /// Image name, e.g. `"AppStream-WinServer2022-11-10-2025"`; the trailing `MM-DD-YYYY` is the
    /// release date. Matches the model's `Name` pattern.
    pub name: &'static str,
    /// `PlatformType` wire value, e.g. `"WINDOWS_SERVER_2022"`; the Windows Server 2012 R2 era
    /// images use `"WINDOWS"`.
    pub platform: &'static str,
    /// Release date (`PublicBaseImageReleasedDate`), `YYYY-MM-DD`.
    pub released: &'static str,
    /// `AppstreamAgentVersion`: the agent release name (`MM-DD-YYYY`) current at `released`.
    pub agent_version: &'static str,
    /// Short description shown by `DescribeImages`.
    pub description: &'static str,
    /// `DisplayName`; AWS base images display their name.
    pub display_name: &'static str,
    /// `SupportedInstanceFamilies` values; each is a [`InstanceFamily::family`] in
    /// [`INSTANCE_FAMILIES`]. Graphics images support only their own graphics family.
    pub instance_families: &'static [&'static str],
}

/// AppStream instance types grouped by the family value used in `SupportedInstanceFamilies`,
/// e.g. `GENERAL_PURPOSE` → `stream.standard.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceFamily {
    /// Family value as used in `Image.SupportedInstanceFamilies` (see the module docs).
    pub family: &'static str,
    /// Every instance type of the family.
    pub instance_types: &'static [&'static str],
}

/// z1d-based instance types (`stream.memory.z1d.*`) need images created from base images
/// published on or after this date (`docs/instance-types.md`, Memory Optimized row).
pub const Z1D_MIN_BASE_IMAGE_RELEASE: &str = "2018-06-12";

/// Families of the non-graphics base and sample-apps images (`docs/instance-types.md`: the
/// `AppStream-WinServer…`, `AppStream-AmazonLinux2…`, `AppStream-RHEL8…` and
/// `AppStream-RockyLinux8…` names serve General Purpose, Compute Optimized and Memory Optimized).
const GENERAL_COMPUTE_MEMORY: &[&str] =
    &["GENERAL_PURPOSE", "COMPUTE_OPTIMIZED", "MEMORY_OPTIMIZED"];
const GRAPHICS_DESIGN_ONLY: &[&str] = &["GRAPHICS_DESIGN"];
const GRAPHICS_PRO_ONLY: &[&str] = &["GRAPHICS_PRO"];
const GRAPHICS_G4_ONLY: &[&str] = &["GRAPHICS_G4"];
const GRAPHICS_G5_ONLY: &[&str] = &["GRAPHICS_G5"];
const GRAPHICS_G6_ONLY: &[&str] = &["GRAPHICS_G6"];
const GRAPHICS_G7_ONLY: &[&str] = &["GRAPHICS_G7"];

/// The AWS-owned public base images seeded into every region, oldest first within each platform.
pub const BASE_IMAGES: &[BaseImage] = &[
    // ===== WINDOWS: the Windows Server 2012 R2 era =====
    // reconstructed: earliest release in [G:base-image-version-history]; name per the 2017-18
    //   `Base-Image-Builder-` pattern
    // synthetic agent: before 12-07-2017 the agent shipped inside the base image and has no release
    //   name; named after the image date
    BaseImage {
        name: "Base-Image-Builder-05-18-2017",
        platform: "WINDOWS",
        released: "2017-05-18",
        agent_version: "05-18-2017",
        description: "Windows Server 2012 R2 Base (English) with AppStream agent 05-18-2017",
        display_name: "Base-Image-Builder-05-18-2017",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // reconstructed: 06-20-2017 release (Base + Sample apps) [G:base-image-version-history]; name
    //   per the SPEC §2.3 sample pattern
    // synthetic agent: before 12-07-2017 the agent shipped inside the base image and has no release
    //   name; named after the image date
    BaseImage {
        name: "Amazon-AppStream2-Sample-Image-06-20-2017",
        platform: "WINDOWS",
        released: "2017-06-20",
        agent_version: "06-20-2017",
        description: "Windows Server 2012 R2 Sample Apps (English) with AppStream agent 06-20-2017",
        display_name: "Amazon-AppStream2-Sample-Image-06-20-2017",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: public AppStream automation script]; 09-05-2017 release [G]
    // synthetic agent: before 12-07-2017 the agent shipped inside the base image and has no release
    //   name; named after the image date
    BaseImage {
        name: "Base-Image-Builder-09-05-2017",
        platform: "WINDOWS",
        released: "2017-09-05",
        agent_version: "09-05-2017",
        description: "Windows Server 2012 R2 Base (English) with AppStream agent 09-05-2017",
        display_name: "Base-Image-Builder-09-05-2017",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: public PowerShell AppStream example]; 01-24-2018 release [G]
    BaseImage {
        name: "Base-Image-Builder-01-24-2018",
        platform: "WINDOWS",
        released: "2018-01-24",
        agent_version: "01-24-2018",
        description: "Windows Server 2012 R2 Base (English) with AppStream agent 01-24-2018",
        display_name: "Base-Image-Builder-01-24-2018",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.2/§2.3 (PowerShell `Get-APSImageBuilderList` example)
    BaseImage {
        name: "Base-Image-Builder-05-02-2018",
        platform: "WINDOWS",
        released: "2018-05-02",
        agent_version: "03-19-2018",
        description: "Windows Server 2012 R2 Base (English) with AppStream agent 03-19-2018",
        display_name: "Base-Image-Builder-05-02-2018",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.3 (guide history, 2018 commits); first base usable for z1d
    BaseImage {
        name: "Base-Image-Builder-06-12-2018",
        platform: "WINDOWS",
        released: "2018-06-12",
        agent_version: "06-06-2018",
        description: "Windows Server 2012 R2 Base (English) with AppStream agent 06-06-2018",
        display_name: "Base-Image-Builder-06-12-2018",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.3 (guide history, 2018 commits)
    BaseImage {
        name: "Graphics-Pro-Image-Builder-06-12-2018",
        platform: "WINDOWS",
        released: "2018-06-12",
        agent_version: "06-06-2018",
        description:
            "Windows Server 2012 R2 Graphics Pro (English) with AppStream agent 06-06-2018",
        display_name: "Graphics-Pro-Image-Builder-06-12-2018",
        instance_families: GRAPHICS_PRO_ONLY,
    },
    // source: SPEC §2.3 (guide commit 2b6596a)
    BaseImage {
        name: "AppStream-WinServer2012R2-05-28-2019",
        platform: "WINDOWS",
        released: "2019-05-28",
        agent_version: "05-07-2019",
        description: "Windows Server 2012 R2 Base (English) with AppStream agent 05-07-2019",
        display_name: "AppStream-WinServer2012R2-05-28-2019",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.3 (guide commits 2b6596a, d3bff8c)
    BaseImage {
        name: "AppStream-Graphics-Design-WinServer2012R2-05-28-2019",
        platform: "WINDOWS",
        released: "2019-05-28",
        agent_version: "05-07-2019",
        description:
            "Windows Server 2012 R2 Graphics Design (English) with AppStream agent 05-07-2019",
        display_name: "AppStream-Graphics-Design-WinServer2012R2-05-28-2019",
        instance_families: GRAPHICS_DESIGN_ONLY,
    },
    // source: SPEC §2.3 (guide commit 2b6596a)
    BaseImage {
        name: "AppStream-Graphics-Pro-WinServer2012R2-05-28-2019",
        platform: "WINDOWS",
        released: "2019-05-28",
        agent_version: "05-07-2019",
        description:
            "Windows Server 2012 R2 Graphics Pro (English) with AppStream agent 05-07-2019",
        display_name: "AppStream-Graphics-Pro-WinServer2012R2-05-28-2019",
        instance_families: GRAPHICS_PRO_ONLY,
    },
    // source: SPEC §2.2/§2.3 (PowerShell `New-APSImageBuilder` example)
    BaseImage {
        name: "AppStream-WinServer2012R2-12-12-2019",
        platform: "WINDOWS",
        released: "2019-12-12",
        agent_version: "11-13-2019",
        description: "Windows Server 2012 R2 Base (English) with AppStream agent 11-13-2019",
        display_name: "AppStream-WinServer2012R2-12-12-2019",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // reconstructed: 03-16-2020 release added G4dn for Windows Server 2012 R2 [X: 2026
    //   release-notes copy]; name per [G:instance-types] pattern
    BaseImage {
        name: "AppStream-Graphics-G4dn-WinServer2012R2-03-16-2020",
        platform: "WINDOWS",
        released: "2020-03-16",
        agent_version: "02-19-2020",
        description:
            "Windows Server 2012 R2 Graphics G4dn (English) with AppStream agent 02-19-2020",
        display_name: "AppStream-Graphics-G4dn-WinServer2012R2-03-16-2020",
        instance_families: GRAPHICS_G4_ONLY,
    },
    // source: [X: public Terraform/CDK AppStream tests]; 07-19-2021 release [G]
    BaseImage {
        name: "AppStream-WinServer2012R2-07-19-2021",
        platform: "WINDOWS",
        released: "2021-07-19",
        agent_version: "07-01-2021",
        description: "Windows Server 2012 R2 Base (English) with AppStream agent 07-01-2021",
        display_name: "AppStream-WinServer2012R2-07-19-2021",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.2 (terraform-provider-aws data source test, visibility PUBLIC)
    BaseImage {
        name: "AppStream-Graphics-Design-WinServer2012R2-07-19-2021",
        platform: "WINDOWS",
        released: "2021-07-19",
        agent_version: "07-01-2021",
        description:
            "Windows Server 2012 R2 Graphics Design (English) with AppStream agent 07-01-2021",
        display_name: "AppStream-Graphics-Design-WinServer2012R2-07-19-2021",
        instance_families: GRAPHICS_DESIGN_ONLY,
    },
    // source: SPEC §2.3 / [G:base-image-version-history] (latest sample image in the 2023 guide)
    BaseImage {
        name: "Amazon-AppStream2-Sample-Image-10-08-2021",
        platform: "WINDOWS",
        released: "2021-10-08",
        agent_version: "08-02-2021",
        description: "Windows Server 2012 R2 Sample Apps (English) with AppStream agent 08-02-2021",
        display_name: "Amazon-AppStream2-Sample-Image-10-08-2021",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: public Terraform variable]; 03-29-2023 Windows release [X: 2026 release-notes
    //   copy]; last 2012 R2 era
    BaseImage {
        name: "AppStream-WinServer2012R2-03-29-2023",
        platform: "WINDOWS",
        released: "2023-03-29",
        agent_version: "03-21-2023",
        description: "Windows Server 2012 R2 Base (English) with AppStream agent 03-21-2023",
        display_name: "AppStream-WinServer2012R2-03-29-2023",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // ===== WINDOWS_SERVER_2016 =====
    // reconstructed: 06-24-2019 release added Windows Server 2016/2019 [X: 2026 release-notes copy,
    //   G:doc-history]
    BaseImage {
        name: "AppStream-WinServer2016-06-24-2019",
        platform: "WINDOWS_SERVER_2016",
        released: "2019-06-24",
        agent_version: "06-19-2019",
        description: "Windows Server 2016 Base (English) with AppStream agent 06-19-2019",
        display_name: "AppStream-WinServer2016-06-24-2019",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // reconstructed: 09-05-2019 Graphics Design release added Windows Server 2016 [X: 2026
    //   release-notes copy]
    BaseImage {
        name: "AppStream-Graphics-Design-WinServer2016-09-05-2019",
        platform: "WINDOWS_SERVER_2016",
        released: "2019-09-05",
        agent_version: "09-03-2019",
        description:
            "Windows Server 2016 Graphics Design (English) with AppStream agent 09-03-2019",
        display_name: "AppStream-Graphics-Design-WinServer2016-09-05-2019",
        instance_families: GRAPHICS_DESIGN_ONLY,
    },
    // reconstructed: 07-19-2021 Windows release [G:base-image-version-history]
    BaseImage {
        name: "AppStream-WinServer2016-07-19-2021",
        platform: "WINDOWS_SERVER_2016",
        released: "2021-07-19",
        agent_version: "07-01-2021",
        description: "Windows Server 2016 Base (English) with AppStream agent 07-01-2021",
        display_name: "AppStream-WinServer2016-07-19-2021",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: public Terraform variables]; 06-17-2024 release [X: 2026 release-notes copy]
    BaseImage {
        name: "AppStream-WinServer2016-06-17-2024",
        platform: "WINDOWS_SERVER_2016",
        released: "2024-06-17",
        agent_version: "05-21-2024",
        description: "Windows Server 2016 Base (English) with AppStream agent 05-21-2024",
        display_name: "AppStream-WinServer2016-06-17-2024",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: public Terraform example]; 05-30-2025 release [X: 2026 release-notes copy]
    BaseImage {
        name: "AppStream-WinServer2016-05-30-2025",
        platform: "WINDOWS_SERVER_2016",
        released: "2025-05-30",
        agent_version: "05-29-2025",
        description: "Windows Server 2016 Base (English) with AppStream agent 05-29-2025",
        display_name: "AppStream-WinServer2016-05-30-2025",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.3 (2026 release-notes copy)
    BaseImage {
        name: "AppStream-WinServer2016-11-10-2025",
        platform: "WINDOWS_SERVER_2016",
        released: "2025-11-10",
        agent_version: "10-02-2025",
        description: "Windows Server 2016 Base (English) with AppStream agent 10-02-2025",
        display_name: "AppStream-WinServer2016-11-10-2025",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: 2026 release-notes copy, latest Graphics G4dn images]
    BaseImage {
        name: "AppStream-Graphics-G4dn-WinServer2016-11-10-2025",
        platform: "WINDOWS_SERVER_2016",
        released: "2025-11-10",
        agent_version: "10-02-2025",
        description: "Windows Server 2016 Graphics G4dn (English) with AppStream agent 10-02-2025",
        display_name: "AppStream-Graphics-G4dn-WinServer2016-11-10-2025",
        instance_families: GRAPHICS_G4_ONLY,
    },
    // ===== WINDOWS_SERVER_2019 =====
    // reconstructed: 06-24-2019 release added Windows Server 2016/2019 [X: 2026 release-notes copy,
    //   G:doc-history]
    BaseImage {
        name: "AppStream-WinServer2019-06-24-2019",
        platform: "WINDOWS_SERVER_2019",
        released: "2019-06-24",
        agent_version: "06-19-2019",
        description: "Windows Server 2019 Base (English) with AppStream agent 06-19-2019",
        display_name: "AppStream-WinServer2019-06-24-2019",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // reconstructed: 06-24-2019 release (Base + Graphics Pro) [X: 2026 release-notes copy]
    BaseImage {
        name: "AppStream-Graphics-Pro-WinServer2019-06-24-2019",
        platform: "WINDOWS_SERVER_2019",
        released: "2019-06-24",
        agent_version: "06-19-2019",
        description: "Windows Server 2019 Graphics Pro (English) with AppStream agent 06-19-2019",
        display_name: "AppStream-Graphics-Pro-WinServer2019-06-24-2019",
        instance_families: GRAPHICS_PRO_ONLY,
    },
    // reconstructed: 01-13-2020 Graphics Design release added Windows Server 2019 [G:doc-history]
    BaseImage {
        name: "AppStream-Graphics-Design-WinServer2019-01-13-2020",
        platform: "WINDOWS_SERVER_2019",
        released: "2020-01-13",
        agent_version: "01-13-2020",
        description:
            "Windows Server 2019 Graphics Design (English) with AppStream agent 01-13-2020",
        display_name: "AppStream-Graphics-Design-WinServer2019-01-13-2020",
        instance_families: GRAPHICS_DESIGN_ONLY,
    },
    // source: [X: public CloudFormation/CDK scripts]; 06-01-2021 release [G]
    BaseImage {
        name: "AppStream-WinServer2019-06-01-2021",
        platform: "WINDOWS_SERVER_2019",
        released: "2021-06-01",
        agent_version: "05-17-2021",
        description: "Windows Server 2019 Base (English) with AppStream agent 05-17-2021",
        display_name: "AppStream-WinServer2019-06-01-2021",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: public AppStream deployment README]; 07-19-2021 release [G]
    BaseImage {
        name: "AppStream-Graphics-G4dn-WinServer2019-07-19-2021",
        platform: "WINDOWS_SERVER_2019",
        released: "2021-07-19",
        agent_version: "07-01-2021",
        description: "Windows Server 2019 Graphics G4dn (English) with AppStream agent 07-01-2021",
        display_name: "AppStream-Graphics-G4dn-WinServer2019-07-19-2021",
        instance_families: GRAPHICS_G4_ONLY,
    },
    // source: [X: public AppStream deployment README]; 10-08-2021 release [G]
    BaseImage {
        name: "AppStream-Graphics-Pro-WinServer2019-10-08-2021",
        platform: "WINDOWS_SERVER_2019",
        released: "2021-10-08",
        agent_version: "08-02-2021",
        description: "Windows Server 2019 Graphics Pro (English) with AppStream agent 08-02-2021",
        display_name: "AppStream-Graphics-Pro-WinServer2019-10-08-2021",
        instance_families: GRAPHICS_PRO_ONLY,
    },
    // source: [X: public Terraform variable, awslabs VAM issue #15]; 03-03-2022 release [G]
    BaseImage {
        name: "AppStream-WinServer2019-03-03-2022",
        platform: "WINDOWS_SERVER_2019",
        released: "2022-03-03",
        agent_version: "02-21-2022",
        description: "Windows Server 2019 Base (English) with AppStream agent 02-21-2022",
        display_name: "AppStream-WinServer2019-03-03-2022",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: awslabs/aws-virtual-application-management issue #15]; 07-12-2022 release
    BaseImage {
        name: "AppStream-Graphics-Design-WinServer2019-07-12-2022",
        platform: "WINDOWS_SERVER_2019",
        released: "2022-07-12",
        agent_version: "06-20-2022",
        description:
            "Windows Server 2019 Graphics Design (English) with AppStream agent 06-20-2022",
        display_name: "AppStream-Graphics-Design-WinServer2019-07-12-2022",
        instance_families: GRAPHICS_DESIGN_ONLY,
    },
    // source: [X: public Terraform configs]; 06-17-2024 release [X: 2026 release-notes copy]
    BaseImage {
        name: "AppStream-WinServer2019-06-17-2024",
        platform: "WINDOWS_SERVER_2019",
        released: "2024-06-17",
        agent_version: "05-21-2024",
        description: "Windows Server 2019 Base (English) with AppStream agent 05-21-2024",
        display_name: "AppStream-WinServer2019-06-17-2024",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.3 (2026 release-notes copy). Platform INFERRED: the notes only say "Windows";
    //   2012 R2 images ended in 2023
    BaseImage {
        name: "Amazon-AppStream2-Sample-Image-06-17-2024",
        platform: "WINDOWS_SERVER_2019",
        released: "2024-06-17",
        agent_version: "05-21-2024",
        description: "Windows Server 2019 Sample Apps (English) with AppStream agent 05-21-2024",
        display_name: "Amazon-AppStream2-Sample-Image-06-17-2024",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: public Terraform example]; 05-30-2025 release [X: 2026 release-notes copy]
    BaseImage {
        name: "AppStream-WinServer2019-05-30-2025",
        platform: "WINDOWS_SERVER_2019",
        released: "2025-05-30",
        agent_version: "05-29-2025",
        description: "Windows Server 2019 Base (English) with AppStream agent 05-29-2025",
        display_name: "AppStream-WinServer2019-05-30-2025",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.3 (2026 release-notes copy)
    BaseImage {
        name: "AppStream-WinServer2019-11-10-2025",
        platform: "WINDOWS_SERVER_2019",
        released: "2025-11-10",
        agent_version: "10-02-2025",
        description: "Windows Server 2019 Base (English) with AppStream agent 10-02-2025",
        display_name: "AppStream-WinServer2019-11-10-2025",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: 2026 release-notes copy, latest Graphics G5 images]
    BaseImage {
        name: "AppStream-Graphics-G5-WinServer2019-11-10-2025",
        platform: "WINDOWS_SERVER_2019",
        released: "2025-11-10",
        agent_version: "10-02-2025",
        description: "Windows Server 2019 Graphics G5 (English) with AppStream agent 10-02-2025",
        display_name: "AppStream-Graphics-G5-WinServer2019-11-10-2025",
        instance_families: GRAPHICS_G5_ONLY,
    },
    // ===== WINDOWS_SERVER_2022 =====
    // reconstructed: 12-11-2023 release "Add support for Windows Server 2022" [X: 2026
    //   release-notes copy]
    BaseImage {
        name: "AppStream-WinServer2022-12-11-2023",
        platform: "WINDOWS_SERVER_2022",
        released: "2023-12-11",
        agent_version: "12-07-2023",
        description: "Windows Server 2022 Base (English) with AppStream agent 12-07-2023",
        display_name: "AppStream-WinServer2022-12-11-2023",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: terraform-provider-aws acceptance test]; 06-17-2024 release
    BaseImage {
        name: "AppStream-WinServer2022-06-17-2024",
        platform: "WINDOWS_SERVER_2022",
        released: "2024-06-17",
        agent_version: "05-21-2024",
        description: "Windows Server 2022 Base (English) with AppStream agent 05-21-2024",
        display_name: "AppStream-WinServer2022-06-17-2024",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: public AppStream walkthrough]; 05-30-2025 release [X: 2026 release-notes copy]
    BaseImage {
        name: "AppStream-WinServer2022-05-30-2025",
        platform: "WINDOWS_SERVER_2022",
        released: "2025-05-30",
        agent_version: "05-29-2025",
        description: "Windows Server 2022 Base (English) with AppStream agent 05-29-2025",
        display_name: "AppStream-WinServer2022-05-30-2025",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.3 (2026 release-notes copy)
    BaseImage {
        name: "AppStream-WinServer2022-11-10-2025",
        platform: "WINDOWS_SERVER_2022",
        released: "2025-11-10",
        agent_version: "10-02-2025",
        description: "Windows Server 2022 Base (English) with AppStream agent 10-02-2025",
        display_name: "AppStream-WinServer2022-11-10-2025",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.3 (2026 release-notes copy)
    BaseImage {
        name: "AppStream-Graphics-G4dn-WinServer2022-11-10-2025",
        platform: "WINDOWS_SERVER_2022",
        released: "2025-11-10",
        agent_version: "10-02-2025",
        description: "Windows Server 2022 Graphics G4dn (English) with AppStream agent 10-02-2025",
        display_name: "AppStream-Graphics-G4dn-WinServer2022-11-10-2025",
        instance_families: GRAPHICS_G4_ONLY,
    },
    // source: [X: 2026 release-notes copy, latest Graphics G5 images]
    BaseImage {
        name: "AppStream-Graphics-G5-WinServer2022-11-10-2025",
        platform: "WINDOWS_SERVER_2022",
        released: "2025-11-10",
        agent_version: "10-02-2025",
        description: "Windows Server 2022 Graphics G5 (English) with AppStream agent 10-02-2025",
        display_name: "AppStream-Graphics-G5-WinServer2022-11-10-2025",
        instance_families: GRAPHICS_G5_ONLY,
    },
    // source: [X: 2026 release-notes copy, latest Graphics G6 images]
    BaseImage {
        name: "AppStream-Graphics-G6-WinServer2022-11-10-2025",
        platform: "WINDOWS_SERVER_2022",
        released: "2025-11-10",
        agent_version: "10-02-2025",
        description: "Windows Server 2022 Graphics G6 (English) with AppStream agent 10-02-2025",
        display_name: "AppStream-Graphics-G6-WinServer2022-11-10-2025",
        instance_families: GRAPHICS_G6_ONLY,
    },
    // reconstructed: 04/16/2026 Windows release (Agent Access support) [X: 2026 release-notes copy]
    BaseImage {
        name: "AppStream-WinServer2022-04-16-2026",
        platform: "WINDOWS_SERVER_2022",
        released: "2026-04-16",
        agent_version: "02-09-2026",
        description: "Windows Server 2022 Base (English) with AppStream agent 02-09-2026",
        display_name: "AppStream-WinServer2022-04-16-2026",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: 2026 release-notes copy, latest Graphics G7 images]
    BaseImage {
        name: "AppStream-Graphics-G7-WinServer2022-08-31-2026",
        platform: "WINDOWS_SERVER_2022",
        released: "2026-08-31",
        agent_version: "06-29-2026",
        description: "Windows Server 2022 Graphics G7 (English) with AppStream agent 06-29-2026",
        display_name: "AppStream-Graphics-G7-WinServer2022-08-31-2026",
        instance_families: GRAPHICS_G7_ONLY,
    },
    // ===== WINDOWS_SERVER_2025 =====
    // source: SPEC §2.3 (2026 release-notes copy; first Windows Server 2025 release)
    BaseImage {
        name: "AppStream-WinServer2025-12-18-2025",
        platform: "WINDOWS_SERVER_2025",
        released: "2025-12-18",
        agent_version: "12-06-2025",
        description: "Windows Server 2025 Base (English) with AppStream agent 12-06-2025",
        display_name: "AppStream-WinServer2025-12-18-2025",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: 2026 release-notes copy, latest Graphics G4dn images]
    BaseImage {
        name: "AppStream-Graphics-G4dn-WinServer2025-12-18-2025",
        platform: "WINDOWS_SERVER_2025",
        released: "2025-12-18",
        agent_version: "12-06-2025",
        description: "Windows Server 2025 Graphics G4dn (English) with AppStream agent 12-06-2025",
        display_name: "AppStream-Graphics-G4dn-WinServer2025-12-18-2025",
        instance_families: GRAPHICS_G4_ONLY,
    },
    // source: [X: 2026 release-notes copy, latest Graphics G6 images]
    BaseImage {
        name: "AppStream-Graphics-G6-WinServer2025-12-18-2025",
        platform: "WINDOWS_SERVER_2025",
        released: "2025-12-18",
        agent_version: "12-06-2025",
        description: "Windows Server 2025 Graphics G6 (English) with AppStream agent 12-06-2025",
        display_name: "AppStream-Graphics-G6-WinServer2025-12-18-2025",
        instance_families: GRAPHICS_G6_ONLY,
    },
    // reconstructed: 04/16/2026 Windows release [X: 2026 release-notes copy]
    BaseImage {
        name: "AppStream-WinServer2025-04-16-2026",
        platform: "WINDOWS_SERVER_2025",
        released: "2026-04-16",
        agent_version: "02-09-2026",
        description: "Windows Server 2025 Base (English) with AppStream agent 02-09-2026",
        display_name: "AppStream-WinServer2025-04-16-2026",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // synthetic: no release row; date taken from the "Latest base images (August 3, 2026)" Windows
    //   component table of the 2026 release-notes copy
    BaseImage {
        name: "AppStream-WinServer2025-08-03-2026",
        platform: "WINDOWS_SERVER_2025",
        released: "2026-08-03",
        agent_version: "06-29-2026",
        description: "Windows Server 2025 Base (English) with AppStream agent 06-29-2026",
        display_name: "AppStream-WinServer2025-08-03-2026",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: 2026 release-notes copy, latest Graphics G7 images]
    BaseImage {
        name: "AppStream-Graphics-G7-WinServer2025-08-31-2026",
        platform: "WINDOWS_SERVER_2025",
        released: "2026-08-31",
        agent_version: "06-29-2026",
        description: "Windows Server 2025 Graphics G7 (English) with AppStream agent 06-29-2026",
        display_name: "AppStream-Graphics-G7-WinServer2025-08-31-2026",
        instance_families: GRAPHICS_G7_ONLY,
    },
    // ===== AMAZON_LINUX2 (public AL2 images end 2026-04-15) =====
    // reconstructed: 11-19-2021 Amazon Linux 2 release [G:base-image-version-history] (11-15-2021
    //   images are deprecated and omitted)
    BaseImage {
        name: "AppStream-AmazonLinux2-11-19-2021",
        platform: "AMAZON_LINUX2",
        released: "2021-11-19",
        agent_version: "11-19-2021",
        description: "Amazon Linux 2 Base with AppStream agent 11-19-2021",
        display_name: "AppStream-AmazonLinux2-11-19-2021",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // reconstructed: 02-18-2022 Amazon Linux 2 release [G:base-image-version-history]
    BaseImage {
        name: "AppStream-AmazonLinux2-02-18-2022",
        platform: "AMAZON_LINUX2",
        released: "2022-02-18",
        agent_version: "11-19-2021",
        description: "Amazon Linux 2 Base with AppStream agent 11-19-2021",
        display_name: "AppStream-AmazonLinux2-02-18-2022",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: AWS CDK AppStream fleet example]; 09-21-2022 release
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-AmazonLinux2-09-21-2022",
        platform: "AMAZON_LINUX2",
        released: "2022-09-21",
        agent_version: "09-21-2022",
        description: "Amazon Linux 2 Base with AppStream agent 09-21-2022",
        display_name: "AppStream-AmazonLinux2-09-21-2022",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: public Terraform module default]; 03-15-2023 release
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-AmazonLinux2-03-15-2023",
        platform: "AMAZON_LINUX2",
        released: "2023-03-15",
        agent_version: "03-15-2023",
        description: "Amazon Linux 2 Base with AppStream agent 03-15-2023",
        display_name: "AppStream-AmazonLinux2-03-15-2023",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // reconstructed: 10-22-2024 Amazon Linux 2 release [X: earlier 2026 release-notes copy]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-AmazonLinux2-10-22-2024",
        platform: "AMAZON_LINUX2",
        released: "2024-10-22",
        agent_version: "10-22-2024",
        description: "Amazon Linux 2 Base with AppStream agent 10-22-2024",
        display_name: "AppStream-AmazonLinux2-10-22-2024",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: SPEC §2.3 (last AL2 base image; AL2 public images end 2026-04-15)
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-AmazonLinux2-02-11-2025",
        platform: "AMAZON_LINUX2",
        released: "2025-02-11",
        agent_version: "02-11-2025",
        description: "Amazon Linux 2 Base with AppStream agent 02-11-2025",
        display_name: "AppStream-AmazonLinux2-02-11-2025",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: earlier 2026 release-notes copy, latest Graphics G4dn images]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-Graphics-G4dn-AmazonLinux2-02-11-2025",
        platform: "AMAZON_LINUX2",
        released: "2025-02-11",
        agent_version: "02-11-2025",
        description: "Amazon Linux 2 Graphics G4dn with AppStream agent 02-11-2025",
        display_name: "AppStream-Graphics-G4dn-AmazonLinux2-02-11-2025",
        instance_families: GRAPHICS_G4_ONLY,
    },
    // ===== RHEL8 =====
    // reconstructed: 07-30-2024 release "Includes support for Red Hat Enterprise Linux 8" [X: 2026
    //   release-notes copy]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-RHEL8-07-30-2024",
        platform: "RHEL8",
        released: "2024-07-30",
        agent_version: "07-30-2024",
        description: "Red Hat Enterprise Linux 8 Base with AppStream agent 07-30-2024",
        display_name: "AppStream-RHEL8-07-30-2024",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // reconstructed: 11/10/2025 RHEL release [X: 2026 release-notes copy]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-RHEL8-11-10-2025",
        platform: "RHEL8",
        released: "2025-11-10",
        agent_version: "11-10-2025",
        description: "Red Hat Enterprise Linux 8 Base with AppStream agent 11-10-2025",
        display_name: "AppStream-RHEL8-11-10-2025",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: earlier 2026 release-notes copy, latest Base images]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-RHEL8-02-18-2026",
        platform: "RHEL8",
        released: "2026-02-18",
        agent_version: "02-18-2026",
        description: "Red Hat Enterprise Linux 8 Base with AppStream agent 02-18-2026",
        display_name: "AppStream-RHEL8-02-18-2026",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: earlier 2026 release-notes copy, latest Graphics G4dn images]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-Graphics-G4dn-RHEL8-02-18-2026",
        platform: "RHEL8",
        released: "2026-02-18",
        agent_version: "02-18-2026",
        description: "Red Hat Enterprise Linux 8 Graphics G4dn with AppStream agent 02-18-2026",
        display_name: "AppStream-Graphics-G4dn-RHEL8-02-18-2026",
        instance_families: GRAPHICS_G4_ONLY,
    },
    // source: SPEC §2.3 (2026 release-notes copy)
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-RHEL8-08-31-2026",
        platform: "RHEL8",
        released: "2026-08-31",
        agent_version: "08-31-2026",
        description: "Red Hat Enterprise Linux 8 Base with AppStream agent 08-31-2026",
        display_name: "AppStream-RHEL8-08-31-2026",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: 2026 release-notes copy; 08/31/2026 added Graphics G7]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-Graphics-G7-RHEL8-08-31-2026",
        platform: "RHEL8",
        released: "2026-08-31",
        agent_version: "08-31-2026",
        description: "Red Hat Enterprise Linux 8 Graphics G7 with AppStream agent 08-31-2026",
        display_name: "AppStream-Graphics-G7-RHEL8-08-31-2026",
        instance_families: GRAPHICS_G7_ONLY,
    },
    // ===== ROCKY_LINUX8 =====
    // reconstructed: 12-19-2024 release "Support for Rocky Linux 8" [X: 2026 release-notes copy]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-RockyLinux8-12-19-2024",
        platform: "ROCKY_LINUX8",
        released: "2024-12-19",
        agent_version: "12-19-2024",
        description: "Rocky Linux 8 Base with AppStream agent 12-19-2024",
        display_name: "AppStream-RockyLinux8-12-19-2024",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // reconstructed: 11/10/2025 Rocky Linux release [X: 2026 release-notes copy]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-RockyLinux8-11-10-2025",
        platform: "ROCKY_LINUX8",
        released: "2025-11-10",
        agent_version: "11-10-2025",
        description: "Rocky Linux 8 Base with AppStream agent 11-10-2025",
        display_name: "AppStream-RockyLinux8-11-10-2025",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: earlier 2026 release-notes copy, latest Base images]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-RockyLinux8-02-18-2026",
        platform: "ROCKY_LINUX8",
        released: "2026-02-18",
        agent_version: "02-18-2026",
        description: "Rocky Linux 8 Base with AppStream agent 02-18-2026",
        display_name: "AppStream-RockyLinux8-02-18-2026",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: earlier 2026 release-notes copy, latest Graphics G5 images]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-Graphics-G5-RockyLinux8-02-18-2026",
        platform: "ROCKY_LINUX8",
        released: "2026-02-18",
        agent_version: "02-18-2026",
        description: "Rocky Linux 8 Graphics G5 with AppStream agent 02-18-2026",
        display_name: "AppStream-Graphics-G5-RockyLinux8-02-18-2026",
        instance_families: GRAPHICS_G5_ONLY,
    },
    // source: SPEC §2.3 (2026 release-notes copy)
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-RockyLinux8-08-31-2026",
        platform: "ROCKY_LINUX8",
        released: "2026-08-31",
        agent_version: "08-31-2026",
        description: "Rocky Linux 8 Base with AppStream agent 08-31-2026",
        display_name: "AppStream-RockyLinux8-08-31-2026",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // source: [X: 2026 release-notes copy, latest Graphics G6 images]
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-Graphics-G6-RockyLinux8-08-31-2026",
        platform: "ROCKY_LINUX8",
        released: "2026-08-31",
        agent_version: "08-31-2026",
        description: "Rocky Linux 8 Graphics G6 with AppStream agent 08-31-2026",
        display_name: "AppStream-Graphics-G6-RockyLinux8-08-31-2026",
        instance_families: GRAPHICS_G6_ONLY,
    },
    // ===== UBUNTU_PRO_2404 (all rows synthetic) =====
    // synthetic: no public Ubuntu Pro 24.04 base image is documented (release notes end
    //   08/31/2026); name follows the `AppStream-<Platform>-MM-DD-YYYY` pattern
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-UbuntuPro2404-09-10-2026",
        platform: "UBUNTU_PRO_2404",
        released: "2026-09-10",
        agent_version: "09-10-2026",
        description: "Ubuntu Pro 24.04 LTS Base with AppStream agent 09-10-2026",
        display_name: "AppStream-UbuntuPro2404-09-10-2026",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // synthetic: invented follow-up release, same pattern
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-UbuntuPro2404-10-01-2026",
        platform: "UBUNTU_PRO_2404",
        released: "2026-10-01",
        agent_version: "10-01-2026",
        description: "Ubuntu Pro 24.04 LTS Base with AppStream agent 10-01-2026",
        display_name: "AppStream-UbuntuPro2404-10-01-2026",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
    // synthetic: invented Graphics G4dn variant, `AppStream-Graphics-G4dn-<Platform>-MM-DD-YYYY`
    //   pattern
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-Graphics-G4dn-UbuntuPro2404-10-01-2026",
        platform: "UBUNTU_PRO_2404",
        released: "2026-10-01",
        agent_version: "10-01-2026",
        description: "Ubuntu Pro 24.04 LTS Graphics G4dn with AppStream agent 10-01-2026",
        display_name: "AppStream-Graphics-G4dn-UbuntuPro2404-10-01-2026",
        instance_families: GRAPHICS_G4_ONLY,
    },
    // synthetic: invented follow-up release, same pattern
    // synthetic agent: no Linux agent list after 11-19-2021 in the sources; named after the image
    //   date
    BaseImage {
        name: "AppStream-UbuntuPro2404-10-22-2026",
        platform: "UBUNTU_PRO_2404",
        released: "2026-10-22",
        agent_version: "10-22-2026",
        description: "Ubuntu Pro 24.04 LTS Base with AppStream agent 10-22-2026",
        display_name: "AppStream-UbuntuPro2404-10-22-2026",
        instance_families: GENERAL_COMPUTE_MEMORY,
    },
];

/// The AppStream instance families and their instance types.
pub const INSTANCE_FAMILIES: &[InstanceFamily] = &[
    // General Purpose: stream.standard.* [M InstanceType docs, G:instance-types]
    InstanceFamily {
        family: "GENERAL_PURPOSE",
        instance_types: &[
            "stream.standard.small",
            "stream.standard.medium",
            "stream.standard.large",
            "stream.standard.xlarge",
            "stream.standard.2xlarge",
        ],
    },
    // Compute Optimized: stream.compute.*
    InstanceFamily {
        family: "COMPUTE_OPTIMIZED",
        instance_types: &[
            "stream.compute.large",
            "stream.compute.xlarge",
            "stream.compute.2xlarge",
            "stream.compute.4xlarge",
            "stream.compute.8xlarge",
        ],
    },
    // Memory Optimized: stream.memory.* and stream.memory.z1d.* (z1d: see
    // Z1D_MIN_BASE_IMAGE_RELEASE)
    InstanceFamily {
        family: "MEMORY_OPTIMIZED",
        instance_types: &[
            "stream.memory.large",
            "stream.memory.xlarge",
            "stream.memory.2xlarge",
            "stream.memory.4xlarge",
            "stream.memory.8xlarge",
            "stream.memory.z1d.large",
            "stream.memory.z1d.xlarge",
            "stream.memory.z1d.2xlarge",
            "stream.memory.z1d.3xlarge",
            "stream.memory.z1d.6xlarge",
            "stream.memory.z1d.12xlarge",
        ],
    },
    // Graphics Design (AMD FirePro S7150x2): retired 2025-12-31; types from older model docs.
    InstanceFamily {
        family: "GRAPHICS_DESIGN",
        instance_types: &[
            "stream.graphics-design.large",
            "stream.graphics-design.xlarge",
            "stream.graphics-design.2xlarge",
            "stream.graphics-design.4xlarge",
        ],
    },
    // Graphics Pro (NVIDIA Tesla M60): retired 2025-10-31; types from older model docs.
    InstanceFamily {
        family: "GRAPHICS_PRO",
        instance_types: &[
            "stream.graphics-pro.4xlarge",
            "stream.graphics-pro.8xlarge",
            "stream.graphics-pro.16xlarge",
        ],
    },
    // Graphics G4dn (NVIDIA T4): stream.graphics.g4dn.*
    InstanceFamily {
        family: "GRAPHICS_G4",
        instance_types: &[
            "stream.graphics.g4dn.xlarge",
            "stream.graphics.g4dn.2xlarge",
            "stream.graphics.g4dn.4xlarge",
            "stream.graphics.g4dn.8xlarge",
            "stream.graphics.g4dn.12xlarge",
            "stream.graphics.g4dn.16xlarge",
        ],
    },
    // Graphics G5 (NVIDIA A10G): stream.graphics.g5.*
    InstanceFamily {
        family: "GRAPHICS_G5",
        instance_types: &[
            "stream.graphics.g5.xlarge",
            "stream.graphics.g5.2xlarge",
            "stream.graphics.g5.4xlarge",
            "stream.graphics.g5.8xlarge",
            "stream.graphics.g5.12xlarge",
            "stream.graphics.g5.16xlarge",
            "stream.graphics.g5.24xlarge",
        ],
    },
    // Graphics G6 (NVIDIA L4): g6, gr6, and the fractional-GPU g6f / gr6f types share the G6
    // images [X: 2026 copy of the guide's instance-families page; G6f/Gr6f need images dated
    // 07-28-2025 or later].
    InstanceFamily {
        family: "GRAPHICS_G6",
        instance_types: &[
            "stream.graphics.g6.xlarge",
            "stream.graphics.g6.2xlarge",
            "stream.graphics.g6.4xlarge",
            "stream.graphics.g6.8xlarge",
            "stream.graphics.g6.12xlarge",
            "stream.graphics.g6.16xlarge",
            "stream.graphics.g6.24xlarge",
            "stream.graphics.gr6.4xlarge",
            "stream.graphics.gr6.8xlarge",
            "stream.graphics.g6f.large",
            "stream.graphics.g6f.xlarge",
            "stream.graphics.g6f.2xlarge",
            "stream.graphics.g6f.4xlarge",
            "stream.graphics.gr6f.4xlarge",
        ],
    },
    // Graphics G7: stream.graphics.g7.* [M InstanceType docs; family from the 2026 release notes]
    InstanceFamily {
        family: "GRAPHICS_G7",
        instance_types: &[
            "stream.graphics.g7.2xlarge",
            "stream.graphics.g7.4xlarge",
            "stream.graphics.g7.8xlarge",
            "stream.graphics.g7.12xlarge",
            "stream.graphics.g7.24xlarge",
            "stream.graphics.g7.48xlarge",
        ],
    },
];

/// The family an instance type belongs to, e.g. `"stream.standard.medium"` → `GENERAL_PURPOSE`.
/// Exact, case-sensitive match; `None` for unknown types.
pub fn instance_family_of(instance_type: &str) -> Option<&'static InstanceFamily> {
    INSTANCE_FAMILIES
        .iter()
        .find(|family| family.instance_types.contains(&instance_type))
}

/// The public base image with this exact name, if any.
pub fn find_base_image(name: &str) -> Option<&'static BaseImage> {
    BASE_IMAGES.iter().find(|image| image.name == name)
}

/// Whether a public base image is deprecated, by the rules of the guide's base image history
/// (`base-image-version-history.md`, "Important"): Windows images released before September
/// 2021, Linux images dated 11-15-2021, and images of the Graphics Desktop family. `released`
/// is `YYYY-MM-DD`. Deprecated images stay listed as history (the model's `ImageState` has no
/// deprecated value) and cannot be used for builders or fleets.
pub fn is_deprecated(platform: &str, released: &str, families: &[String]) -> bool {
    let windows = platform.starts_with("WINDOWS");
    (windows && released < "2021-09-01")
        || (!windows && released == "2021-11-15")
        || families.iter().any(|f| f == "GRAPHICS_DESKTOP")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deprecation_follows_the_guide() {
        let gp = ["GENERAL_PURPOSE".to_owned()];
        assert!(is_deprecated("WINDOWS", "2019-12-12", &gp));
        assert!(is_deprecated("WINDOWS_SERVER_2019", "2021-08-31", &gp));
        assert!(!is_deprecated("WINDOWS_SERVER_2019", "2021-09-01", &gp));
        assert!(is_deprecated("AMAZON_LINUX2", "2021-11-15", &gp));
        assert!(!is_deprecated("AMAZON_LINUX2", "2021-11-19", &gp));
        assert!(!is_deprecated("AMAZON_LINUX2", "2019-01-01", &gp));
        assert!(is_deprecated(
            "WINDOWS_SERVER_2022",
            "2025-11-10",
            &["GRAPHICS_DESKTOP".to_owned()]
        ));
        // The catalogue keeps history on both sides of the line.
        let count = |dep: bool| {
            BASE_IMAGES
                .iter()
                .filter(|b| {
                    let fams: Vec<String> = b
                        .instance_families
                        .iter()
                        .map(|f| (*f).to_owned())
                        .collect();
                    is_deprecated(b.platform, b.released, &fams) == dep
                })
                .count()
        };
        assert!(count(true) > 10 && count(false) > 10);
    }

    /// `PlatformType` enum of the model.
    const PLATFORM_TYPES: &[&str] = photon_types::PlatformType::VALUES;

    /// Platforms that must carry release history.
    const PLATFORMS_WITH_HISTORY: &[&str] = &[
        "WINDOWS",
        "WINDOWS_SERVER_2016",
        "WINDOWS_SERVER_2019",
        "WINDOWS_SERVER_2022",
        "WINDOWS_SERVER_2025",
        "AMAZON_LINUX2",
        "RHEL8",
        "ROCKY_LINUX8",
        "UBUNTU_PRO_2404",
    ];

    /// Latest date any row may carry.
    const NOT_AFTER: (u32, u32, u32) = (2026, 11, 1);

    /// Hand-rolled `^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,100}$`.
    fn is_valid_name(name: &str) -> bool {
        let bytes = name.as_bytes();
        match bytes.split_first() {
            Some((first, rest)) => {
                first.is_ascii_alphanumeric()
                    && rest.len() <= 100
                    && rest
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            }
            None => false,
        }
    }

    fn parse_num(s: &str) -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }

    fn valid_ymd(y: u32, m: u32, d: u32) -> Option<(u32, u32, u32)> {
        // Gregorian leap year: divisible by 4 and not by 100, or divisible by 400.
        let leap = matches!((y % 4, y % 100, y % 400), (0, 1.., _) | (_, _, 0));
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (y >= 2016 && (1..=days).contains(&d)).then_some((y, m, d))
    }

    /// `YYYY-MM-DD` → (y, m, d).
    fn parse_iso(s: &str) -> Option<(u32, u32, u32)> {
        let parts: Vec<&str> = s.split('-').collect();
        match parts.as_slice() {
            [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
                valid_ymd(parse_num(y)?, parse_num(m)?, parse_num(d)?)
            }
            _ => None,
        }
    }

    /// `MM-DD-YYYY` → (y, m, d).
    fn parse_mdy(s: &str) -> Option<(u32, u32, u32)> {
        let parts: Vec<&str> = s.split('-').collect();
        match parts.as_slice() {
            [m, d, y] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
                valid_ymd(parse_num(y)?, parse_num(m)?, parse_num(d)?)
            }
            _ => None,
        }
    }

    #[test]
    fn name_check_matches_model_pattern() {
        assert!(is_valid_name("AppStream-WinServer2022-11-10-2025"));
        assert!(is_valid_name("a"));
        assert!(is_valid_name(&"a".repeat(101)));
        assert!(!is_valid_name(&"a".repeat(102)));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("-leading-dash"));
        assert!(!is_valid_name("has space"));
        assert!(!is_valid_name("slash/name"));
    }

    #[test]
    fn date_parsers() {
        assert_eq!(parse_iso("2024-02-29"), Some((2024, 2, 29)));
        assert_eq!(parse_iso("2023-02-29"), None);
        assert_eq!(parse_iso("2025-13-01"), None);
        assert_eq!(parse_iso("2025-1-01"), None);
        assert_eq!(parse_mdy("11-10-2025"), Some((2025, 11, 10)));
        assert_eq!(parse_mdy("2025-11-10"), None);
    }

    #[test]
    fn catalogue_size_is_in_range() {
        assert!(
            (40..=80).contains(&BASE_IMAGES.len()),
            "{} images",
            BASE_IMAGES.len()
        );
    }

    #[test]
    fn names_are_unique_and_valid() {
        for (i, image) in BASE_IMAGES.iter().enumerate() {
            assert!(is_valid_name(image.name), "invalid name {}", image.name);
            assert!(
                BASE_IMAGES[..i]
                    .iter()
                    .all(|other| other.name != image.name),
                "duplicate name {}",
                image.name
            );
            assert!(!image.display_name.is_empty() && image.display_name.len() <= 100);
            assert!(!image.description.is_empty() && image.description.len() <= 256);
        }
    }

    #[test]
    fn platforms_are_platform_types() {
        for image in BASE_IMAGES {
            assert!(
                PLATFORM_TYPES.contains(&image.platform),
                "{}: bad platform {}",
                image.name,
                image.platform
            );
        }
    }

    #[test]
    fn dates_parse_and_match_names() {
        for image in BASE_IMAGES {
            let released = parse_iso(image.released)
                .unwrap_or_else(|| panic!("{}: bad date {}", image.name, image.released));
            assert!(
                released <= NOT_AFTER,
                "{}: released after 2026-11-01",
                image.name
            );
            let suffix = &image.name[image.name.len() - 10..];
            assert_eq!(
                parse_mdy(suffix),
                Some(released),
                "{}: name/date mismatch",
                image.name
            );
        }
    }

    #[test]
    fn agent_versions_are_dates_not_after_release() {
        for image in BASE_IMAGES {
            let agent = parse_mdy(image.agent_version)
                .unwrap_or_else(|| panic!("{}: bad agent {}", image.name, image.agent_version));
            let released = parse_iso(image.released).unwrap();
            assert!(agent <= released, "{}: agent newer than image", image.name);
        }
    }

    #[test]
    fn rows_are_grouped_by_platform_and_oldest_first() {
        for (i, image) in BASE_IMAGES.iter().enumerate().skip(1) {
            let prev = &BASE_IMAGES[i - 1];
            if prev.platform == image.platform {
                assert!(
                    prev.released <= image.released,
                    "{} out of order",
                    image.name
                );
            } else {
                assert!(
                    BASE_IMAGES[..i]
                        .iter()
                        .all(|other| other.platform != image.platform),
                    "{}: platform {} is not contiguous",
                    image.name,
                    image.platform
                );
            }
        }
    }

    #[test]
    fn every_platform_has_history() {
        for platform in PLATFORMS_WITH_HISTORY {
            let releases = BASE_IMAGES
                .iter()
                .filter(|i| i.platform == *platform)
                .count();
            assert!(releases >= 3, "{platform}: only {releases} releases");
        }
    }

    #[test]
    fn referenced_families_exist() {
        for image in BASE_IMAGES {
            assert!(
                !image.instance_families.is_empty(),
                "{}: no families",
                image.name
            );
            for family in image.instance_families {
                assert!(
                    INSTANCE_FAMILIES.iter().any(|f| f.family == *family),
                    "{}: unknown family {family}",
                    image.name
                );
            }
            if image
                .instance_families
                .iter()
                .any(|f| f.starts_with("GRAPHICS"))
            {
                assert_eq!(image.instance_families.len(), 1, "{}", image.name);
            }
        }
    }

    #[test]
    fn instance_types_are_unique_and_families_distinct() {
        let mut seen: Vec<&str> = Vec::new();
        for (i, family) in INSTANCE_FAMILIES.iter().enumerate() {
            assert!(INSTANCE_FAMILIES[..i]
                .iter()
                .all(|f| f.family != family.family));
            assert!(!family.instance_types.is_empty());
            for instance_type in family.instance_types {
                assert!(instance_type.starts_with("stream."), "{instance_type}");
                assert!(!seen.contains(instance_type), "duplicate {instance_type}");
                seen.push(instance_type);
            }
        }
    }

    #[test]
    fn lookups() {
        let family = instance_family_of("stream.standard.medium").expect("known type");
        assert_eq!(family.family, "GENERAL_PURPOSE");
        assert_eq!(
            instance_family_of("stream.memory.z1d.12xlarge")
                .unwrap()
                .family,
            "MEMORY_OPTIMIZED"
        );
        assert_eq!(
            instance_family_of("stream.graphics.gr6f.4xlarge")
                .unwrap()
                .family,
            "GRAPHICS_G6"
        );
        assert_eq!(
            instance_family_of("stream.graphics.g4dn.xlarge")
                .unwrap()
                .family,
            "GRAPHICS_G4"
        );
        assert!(instance_family_of("stream.standard.huge").is_none());
        assert!(instance_family_of("STREAM.STANDARD.MEDIUM").is_none());
        assert!(parse_iso(Z1D_MIN_BASE_IMAGE_RELEASE).is_some());

        let image = find_base_image("AppStream-WinServer2022-11-10-2025").expect("SPEC §2.3 image");
        assert_eq!(image.platform, "WINDOWS_SERVER_2022");
        assert_eq!(image.released, "2025-11-10");
        assert!(find_base_image("appstream-winserver2022-11-10-2025").is_none());
    }

    #[test]
    fn spec_named_images_are_present() {
        for name in [
            "AppStream-WinServer2012R2-05-28-2019",
            "AppStream-Graphics-Design-WinServer2012R2-05-28-2019",
            "AppStream-Graphics-Pro-WinServer2012R2-05-28-2019",
            "Base-Image-Builder-06-12-2018",
            "Graphics-Pro-Image-Builder-06-12-2018",
            "Amazon-AppStream2-Sample-Image-10-08-2021",
            "AppStream-WinServer2012R2-12-12-2019",
            "AppStream-WinServer2022-11-10-2025",
            "AppStream-WinServer2019-11-10-2025",
            "AppStream-WinServer2016-11-10-2025",
            "AppStream-WinServer2025-12-18-2025",
            "AppStream-RHEL8-08-31-2026",
            "AppStream-RockyLinux8-08-31-2026",
            "AppStream-Graphics-G4dn-WinServer2022-11-10-2025",
            "AppStream-AmazonLinux2-02-11-2025",
            "Amazon-AppStream2-Sample-Image-06-17-2024",
            "Base-Image-Builder-05-02-2018",
            "AppStream-Graphics-Design-WinServer2012R2-07-19-2021",
        ] {
            assert!(find_base_image(name).is_some(), "missing {name}");
        }
    }
}
