//! APIs as users manage them: identity, settings and draft, the immutable numbered versions
//! saved from the draft, and which version each environment serves.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::callers::SecurityLevel;
use super::definition::ApiDefinition;

/// An API as a user manages it: identity, metadata and its editable draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Api {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub workgroup_id: i64,
    pub name: String,
    pub path: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub description: String,
    /// The folder the API sits in; `None` is the workgroup's root. Set at creation or by
    /// `Store::move_api`; `Store::update_api` leaves it alone.
    #[serde(default)]
    pub folder_id: Option<i64>,
    #[serde(flatten)]
    pub settings: ApiSettings,
    pub draft: ApiDefinition,
    /// Who made and last changed the API, when, and the draft's result samples: kept by the
    /// store, never read from input.
    #[serde(flatten)]
    pub details: ApiDetails,
}

/// What the store keeps about an API besides what its users set: the creation and the last
/// change (times in milliseconds since the Unix epoch, user names; `""` when not known, as for
/// APIs written before these were kept), and the result samples of the draft. Every field is
/// read-only: the store writes them, JSON input leaves them at their defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiDetails {
    #[serde(skip_deserializing)]
    #[schema(read_only)]
    pub created_at: i64,
    #[serde(skip_deserializing)]
    #[schema(read_only)]
    pub updated_at: i64,
    /// The user who created the API (`apply` for `sluice apply` run without a user name).
    #[serde(skip_deserializing)]
    #[schema(read_only)]
    pub created_by: String,
    /// The user who last changed its metadata, draft, folder or samples.
    #[serde(skip_deserializing)]
    #[schema(read_only)]
    pub updated_by: String,
    /// The draft's result samples; saving a version copies them to it.
    #[serde(skip_deserializing)]
    #[schema(read_only)]
    pub draft_samples: ApiSamples,
}

/// The most bytes a result sample takes, written as compact JSON.
pub const MAX_SAMPLE_BYTES: usize = 64 * 1024;

/// What a version answers, as examples for its readers: the body of a successful call and of
/// a failed one (each any JSON value, at most [`MAX_SAMPLE_BYTES`]). They show in the API's
/// views and as response examples in the OpenAPI documents.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiSamples {
    /// A successful call's body, e.g. `{"code": "OK", "data": {…}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub success: Option<serde_json::Value>,
    /// A failed call's body, e.g. `{"code": "MissingParameter.id", "message": "…"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub failure: Option<serde_json::Value>,
}

impl ApiSamples {
    pub fn is_empty(&self) -> bool {
        self.success.is_none() && self.failure.is_none()
    }

    /// The one size rule for samples: the error names the key at fault (`success`,
    /// `failure`) and says why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for (key, sample) in [("success", &self.success), ("failure", &self.failure)] {
            let Some(sample) = sample else { continue };
            let size = serde_json::to_vec(sample).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
            if size > MAX_SAMPLE_BYTES {
                return Err((
                    key,
                    format!(
                        "the {key} sample is {size} bytes of JSON, more than {} KiB: keep a few rows",
                        MAX_SAMPLE_BYTES / 1024
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// API metadata that holds for every version and takes effect when it is saved, without a
/// new version: who answers for the API, how it is found, and who may call it how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiSettings {
    /// At most 10, each 1–32 characters, no commas; kept sorted and without repeats.
    pub tags: Vec<String>,
    /// Who answers for the API (free text, e.g. a user name or a team).
    pub owner: String,
    /// The most calls per second the API takes from all callers together; `None`: no limit.
    pub max_qps: Option<u32>,
    /// The clearance an app needs to be granted and to call the API.
    pub security_level: SecurityLevel,
    pub visible_range: VisibleRange,
    pub auth_mode: AuthMode,
}

/// The most tags an API has, and the longest tag.
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 32;

impl ApiSettings {
    /// Tags in stored form: trimmed, sorted, each once. What a user typed goes through this
    /// before [`ApiSettings::check`].
    pub fn normalize_tags(tags: &[String]) -> Vec<String> {
        let mut normalized: Vec<String> = tags.iter().map(|t| t.trim().to_owned()).collect();
        normalized.sort();
        normalized.dedup();
        normalized
    }

    /// The one set of rules for settings, wherever they come from (REST, files, the store):
    /// the error names the key at fault (`tags`, `maxQps`) and says why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.tags.len() > MAX_TAGS {
            return Err(("tags", format!("an API has at most {MAX_TAGS} tags")));
        }
        for tag in &self.tags {
            let length = tag.chars().count();
            if tag.trim() != tag
                || length == 0
                || length > MAX_TAG_CHARS
                || tag.chars().any(|c| c == ',' || c.is_control())
            {
                return Err((
                    "tags",
                    format!(
                        "tag `{tag}`: 1 to {MAX_TAG_CHARS} characters, no commas, control characters or surrounding spaces"
                    ),
                ));
            }
        }
        if self.max_qps == Some(0) {
            return Err(("maxQps", "max QPS is at least 1; leave it out for no limit".to_owned()));
        }
        Ok(())
    }
}

/// Which apps an API may be granted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VisibleRange {
    /// Apps of the API's own workgroup only.
    #[default]
    Private,
    /// Apps of any workgroup (the API is listed for others to apply for).
    Public,
}

/// How callers of an API prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// An app key with a bearer app token or an HMAC signature, and a grant.
    #[default]
    App,
    /// Anyone may call; for APIs explicitly meant to be public.
    None,
}

impl VisibleRange {
    pub fn as_str(self) -> &'static str {
        match self {
            VisibleRange::Private => "private",
            VisibleRange::Public => "public",
        }
    }
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::App => "app",
            AuthMode::None => "none",
        }
    }
}

fn default_method() -> String {
    "GET".to_owned()
}

/// One immutable, numbered version of an API (V0, V1, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiVersion {
    pub api_id: i64,
    pub number: i64,
    #[serde(default)]
    pub description: String,
    pub definition: ApiDefinition,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// The user who saved it (`""` when not known).
    #[serde(default)]
    pub created_by: String,
    /// Its result samples (copied from the draft when it was saved, then set per version).
    #[serde(default)]
    pub samples: ApiSamples,
}

impl ApiVersion {
    pub fn label(&self) -> String {
        format!("V{}", self.number)
    }
}

/// Where a published API version is served. Production is the default environment; `test`
/// lets callers try a version before production serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Test,
    #[default]
    Prod,
}

impl Environment {
    /// Every environment, production first.
    pub const ALL: [Environment; 2] = [Environment::Prod, Environment::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Test => "test",
            Environment::Prod => "prod",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "test" => Ok(Environment::Test),
            "prod" => Ok(Environment::Prod),
            _ => Err(format!("unknown environment `{s}`: expected prod or test")),
        }
    }
}

/// Which version of an API one environment serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Publication {
    pub api_id: i64,
    pub environment: Environment,
    /// The version's number (`V{version}`).
    pub version: i64,
    /// Milliseconds since the Unix epoch.
    pub published_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apis_without_a_folder_read_from_older_json() {
        let json = r#"{"name": "a", "path": "/a", "draft": {"datasourceId": 1, "mode": "wizard", "table": "t"}}"#;
        let api: Api = serde_json::from_str(json).unwrap();
        assert_eq!(api.folder_id, None);
        let shown = serde_json::to_value(&api).unwrap();
        assert_eq!(shown["folderId"], serde_json::Value::Null);
    }

    #[test]
    fn environments_are_lowercase_words_and_default_to_prod() {
        assert_eq!(Environment::default(), Environment::Prod);
        assert_eq!("test".parse::<Environment>().unwrap(), Environment::Test);
        assert_eq!(" PROD ".parse::<Environment>().unwrap(), Environment::Prod);
        assert!("staging".parse::<Environment>().unwrap_err().contains("prod or test"));
        assert_eq!(serde_json::to_string(&Environment::Test).unwrap(), "\"test\"");
        assert_eq!(serde_json::from_str::<Environment>("\"prod\"").unwrap(), Environment::Prod);
        for env in Environment::ALL {
            assert_eq!(env.as_str().parse::<Environment>().unwrap(), env);
            assert_eq!(env.to_string(), env.as_str());
        }
    }
}
