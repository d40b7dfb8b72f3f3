//! Who manages Sluice and where: workgroups, platform settings, users and their tokens,
//! members and their roles, the folder tree, and the audit log.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A team's space: datasources and APIs belong to exactly one workgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workgroup {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub settings: WorkgroupSettings,
}

/// How a workgroup works; its admins change it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkgroupSettings {
    /// Publishing a version to prod waits for a workgroup admin's approval (the test
    /// environment never does).
    pub publish_approval: bool,
    /// Taking an API offline from prod waits for a workgroup admin's approval.
    pub offline_approval: bool,
}

/// Settings only platform admins change. The configuration file's `ssrf_allow` and
/// `dataset_roots` apply as well; these add to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformSettings {
    /// Hosts, addresses or CIDRs that datasources and registered upstreams may reach although
    /// the network policy refuses their range (loopback, private, …).
    pub network_allow: Vec<String>,
    /// Directories of SQLite files besides `<data dir>/datasets`.
    pub dataset_roots: Vec<DatasetRootSetting>,
}

/// A dataset root: shared (one directory per workgroup inside) or bound to one workgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatasetRootSetting {
    /// An absolute directory path.
    pub path: String,
    /// The workgroup (by name) that owns the whole root; absent for a shared root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workgroup: Option<String>,
}

/// Someone who uses the management API. Users authenticate with [`ApiToken`]s only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub id: i64,
    /// Letters, digits, `_`, `.` and `-`, at most 64; unique whatever its case.
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    /// May do anything, in every workgroup.
    #[serde(default)]
    pub platform_admin: bool,
    /// A disabled user's tokens authenticate nobody.
    #[serde(default)]
    pub disabled: bool,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_at: i64,
}

/// A change to a user; each `None` keeps what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub platform_admin: Option<bool>,
    pub disabled: Option<bool>,
}

/// A token a user authenticates with. The token text is shown once, at creation; the store
/// keeps only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The token's first characters (at most 8, and at most a quarter of it), to tell tokens
    /// apart in a list.
    pub prefix: String,
    /// Milliseconds since the Unix epoch, as are the other times.
    pub created_at: i64,
    /// `None`: never expires.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// When it last authenticated, to the minute.
    #[serde(default)]
    pub last_used_at: Option<i64>,
    #[serde(default)]
    pub revoked: bool,
}

impl ApiToken {
    /// Whether the token authenticates at `now_ms` (its user aside): not revoked, not expired.
    pub fn is_active(&self, now_ms: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|expires_at| now_ms < expires_at)
    }
}

/// What a member may do in a workgroup. Admins manage the workgroup and its members,
/// developers build and publish APIs, viewers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkgroupRole {
    Admin,
    Developer,
    Viewer,
}

impl WorkgroupRole {
    pub const ALL: [WorkgroupRole; 3] = [WorkgroupRole::Admin, WorkgroupRole::Developer, WorkgroupRole::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkgroupRole::Admin => "admin",
            WorkgroupRole::Developer => "developer",
            WorkgroupRole::Viewer => "viewer",
        }
    }

    /// Whether this role may do what `needed` may: admin ⊇ developer ⊇ viewer.
    pub fn includes(self, needed: WorkgroupRole) -> bool {
        self.rank() >= needed.rank()
    }

    fn rank(self) -> u8 {
        match self {
            WorkgroupRole::Admin => 2,
            WorkgroupRole::Developer => 1,
            WorkgroupRole::Viewer => 0,
        }
    }
}

impl fmt::Display for WorkgroupRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkgroupRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(WorkgroupRole::Admin),
            "developer" => Ok(WorkgroupRole::Developer),
            "viewer" => Ok(WorkgroupRole::Viewer),
            _ => Err(format!("unknown role `{s}`: expected admin, developer or viewer")),
        }
    }
}

/// A user's role in one workgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub workgroup_id: i64,
    pub user_id: i64,
    pub role: WorkgroupRole,
    /// Milliseconds since the Unix epoch; kept when the role changes.
    pub added_at: i64,
}

/// A folder of a workgroup's API tree: at most three levels under the root, sibling names
/// unique (case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub workgroup_id: i64,
    /// `None`: directly under the workgroup's root.
    #[serde(default)]
    pub parent_id: Option<i64>,
    pub name: String,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_at: i64,
}

/// One recorded change: who did what to what. Details never hold secrets (the store masks
/// values under keys that name one, such as `password` or `secret`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Given by the store; ignored when appending.
    #[serde(default)]
    pub id: i64,
    /// Milliseconds since the Unix epoch; `0` when appending means now.
    #[serde(default)]
    pub at: i64,
    /// The user (name or id) who made the change.
    pub actor: String,
    /// What was done, as `thing.verb`: `api.create`, `datasource.update`, `version.publish`.
    pub action: String,
    /// The workgroup it happened in, if any.
    #[serde(default)]
    pub workgroup_id: Option<i64>,
    /// What it was done to, as `kind:id`: `api:12`.
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_as_lowercase_words_and_nest() {
        assert_eq!(serde_json::to_string(&WorkgroupRole::Developer).unwrap(), "\"developer\"");
        assert_eq!(serde_json::from_str::<WorkgroupRole>("\"viewer\"").unwrap(), WorkgroupRole::Viewer);
        assert_eq!(" Admin ".parse::<WorkgroupRole>().unwrap(), WorkgroupRole::Admin);
        assert!("owner".parse::<WorkgroupRole>().unwrap_err().contains("developer"));
        for role in WorkgroupRole::ALL {
            assert_eq!(role.as_str().parse::<WorkgroupRole>().unwrap(), role);
            assert!(role.includes(WorkgroupRole::Viewer) && WorkgroupRole::Admin.includes(role));
        }
        assert!(!WorkgroupRole::Viewer.includes(WorkgroupRole::Developer));
        assert!(!WorkgroupRole::Developer.includes(WorkgroupRole::Admin));
    }

    #[test]
    fn tokens_are_active_until_revoked_or_expired() {
        let token = ApiToken {
            id: 1,
            user_id: 1,
            name: "ci".into(),
            prefix: "slt_abcd".into(),
            created_at: 0,
            expires_at: Some(1_000),
            last_used_at: None,
            revoked: false,
        };
        assert!(token.is_active(999));
        assert!(!token.is_active(1_000));
        assert!(ApiToken { expires_at: None, ..token.clone() }.is_active(i64::MAX));
        assert!(!ApiToken { revoked: true, expires_at: None, ..token }.is_active(0));
    }
}
