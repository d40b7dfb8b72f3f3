//! Callers: apps with their tokens, the security levels that are an app's clearance, grants
//! of APIs to apps, and gray release strategies.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api::Environment;

/// Data security levels, from public (L1) to confidential (L4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default, ToSchema)]
pub enum SecurityLevel {
    #[default]
    L1,
    L2,
    L3,
    L4,
}

impl SecurityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::L1 => "L1",
            SecurityLevel::L2 => "L2",
            SecurityLevel::L3 => "L3",
            SecurityLevel::L4 => "L4",
        }
    }
}

impl FromStr for SecurityLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "L1" => Ok(SecurityLevel::L1),
            "L2" => Ok(SecurityLevel::L2),
            "L3" => Ok(SecurityLevel::L3),
            "L4" => Ok(SecurityLevel::L4),
            _ => Err(format!("unknown security level `{s}`: expected L1, L2, L3 or L4")),
        }
    }
}

/// A caller's application: identified by its public `app_key`, proven by a secret that is shown
/// once, at creation, and kept sealed by the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct App {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub workgroup_id: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Public and unique across the installation; callers send it with every call.
    #[serde(default)]
    pub app_key: String,
    /// Addresses calls may come from, as CIDRs (`10.0.0.0/8`, `2001:db8::/32`, or one
    /// address); empty: anywhere.
    #[serde(default)]
    pub ip_allow: Vec<String>,
    /// The highest security level of data the app sees unmasked.
    #[serde(default)]
    pub clearance: SecurityLevel,
    /// A disabled app's calls are refused like those of an unknown one.
    #[serde(default)]
    pub disabled: bool,
    /// While a rotated-out secret still works: until this time (milliseconds since the Unix
    /// epoch). `None` when no previous secret is valid.
    #[serde(default)]
    pub previous_secret_expires_at: Option<i64>,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_at: i64,
}

/// A bearer token of an app: sent with the app key, valid until it expires or is revoked.
/// Only its SHA-256 is stored; the text is shown once, when it is issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppToken {
    pub id: i64,
    pub app_id: i64,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

/// Permission for an app to call an API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    #[serde(default)]
    pub id: i64,
    pub api_id: i64,
    pub app_id: i64,
    /// Milliseconds since the Unix epoch; `None`: no end.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Calls per second for this app on this API; `None`: only the API's limit applies.
    #[serde(default)]
    pub qps: Option<u32>,
    #[serde(default)]
    pub created_at: i64,
    /// The user who granted it.
    #[serde(default)]
    pub created_by: String,
    /// The application whose approval made this grant, if one did.
    #[serde(default)]
    pub application_id: Option<i64>,
}

/// Gray release of one API in one environment: `percent` of callers (by a hash of their app
/// key) get `version` instead of the published one, while `enabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrayStrategy {
    pub api_id: i64,
    pub environment: Environment,
    pub version: i64,
    /// 0–100.
    pub percent: u8,
    pub enabled: bool,
    #[serde(default)]
    pub updated_at: i64,
}
