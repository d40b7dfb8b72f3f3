//! Sharing APIs across workgroups: marketplace listings, and approvals — the requests that
//! wait for someone's decision (listing and delisting an API, an app's application for
//! access, publishing to and taking offline from prod where the workgroup asks for it).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api::{ApiSettings, MAX_SAMPLE_BYTES};
use super::callers::SecurityLevel;

/// The longest marketplace texts, in characters (documentation and samples in bytes).
pub const MAX_CATEGORY_CHARS: usize = 64;
pub const MAX_SUMMARY_CHARS: usize = 500;
pub const MAX_CONTACT_CHARS: usize = 200;
pub const MAX_DOCUMENTATION_BYTES: usize = 64 * 1024;
/// The longest reason or comment of a request, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// What the marketplace shows of a listed API besides the API itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ListingInfo {
    /// One word or phrase that groups listings (`sales`, `geo`); filtered on exactly.
    pub category: String,
    /// Like API tags: at most 10, each 1–32 characters, no commas.
    pub tags: Vec<String>,
    /// One paragraph: what the data is and what it is for.
    pub summary: String,
    /// Documentation in Markdown.
    pub documentation: String,
    /// An answer of a successful call, as a caller would receive it.
    #[schema(value_type = Option<Object>)]
    pub success_sample: Option<serde_json::Value>,
    /// An answer of a failed call.
    #[schema(value_type = Option<Object>)]
    pub failure_sample: Option<serde_json::Value>,
    /// Who to ask about the data (a person, a channel, an address).
    pub contact: String,
}

impl ListingInfo {
    /// Trims what people type and keeps tags in stored form.
    pub fn normalized(mut self) -> ListingInfo {
        self.category = self.category.trim().to_owned();
        self.summary = self.summary.trim().to_owned();
        self.contact = self.contact.trim().to_owned();
        self.tags = ApiSettings::normalize_tags(&self.tags);
        self
    }

    /// The one set of rules for listing metadata: the error names the key at fault.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let too_long = |field: &'static str, text: &str, most: usize| {
            (text.chars().count() > most).then(|| (field, format!("at most {most} characters")))
        };
        if let Some(e) = too_long("category", &self.category, MAX_CATEGORY_CHARS)
            .or_else(|| too_long("summary", &self.summary, MAX_SUMMARY_CHARS))
            .or_else(|| too_long("contact", &self.contact, MAX_CONTACT_CHARS))
        {
            return Err(e);
        }
        if self.category.chars().any(char::is_control) {
            return Err(("category", "no control characters".to_owned()));
        }
        if self.documentation.len() > MAX_DOCUMENTATION_BYTES {
            return Err(("documentation", format!("at most {} KiB of Markdown", MAX_DOCUMENTATION_BYTES / 1024)));
        }
        for (field, sample) in [("successSample", &self.success_sample), ("failureSample", &self.failure_sample)] {
            if sample.as_ref().is_some_and(|s| s.to_string().len() > MAX_SAMPLE_BYTES) {
                return Err((field, format!("a sample is at most {} KiB of JSON", MAX_SAMPLE_BYTES / 1024)));
            }
        }
        let settings = ApiSettings { tags: self.tags.clone(), ..ApiSettings::default() };
        settings.check()
    }

    /// Name, summary and tags lower-cased in one text: what marketplace search matches.
    pub fn search_text(&self, api_name: &str) -> String {
        let mut text = format!("{api_name}\n{}", self.summary);
        for tag in &self.tags {
            text.push('\n');
            text.push_str(tag);
        }
        text.to_lowercase()
    }
}

/// Where a listing stands. `draft → pending → listed | rejected`, `listed → delisted`; a
/// rejected or delisted listing can be submitted again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListingState {
    Draft,
    Pending,
    Listed,
    Rejected,
    Delisted,
}

/// An API's marketplace listing as its workgroup sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub api_id: i64,
    pub workgroup_id: i64,
    pub state: ListingState,
    /// What the team edits and submits.
    pub draft: ListingInfo,
    /// What the marketplace shows, as last approved; `None` before the first approval.
    pub listed: Option<ListingInfo>,
    /// When it was last approved (milliseconds since the Unix epoch).
    pub listed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A listed API as the marketplace shows it to every signed-in user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketEntry {
    pub api_id: i64,
    pub name: String,
    pub method: String,
    pub path: String,
    pub description: String,
    pub workgroup_id: i64,
    /// The workgroup that offers the API.
    pub workgroup: String,
    pub owner: String,
    /// The clearance an app needs.
    pub security_level: SecurityLevel,
    /// The API's own limit on calls per second from all callers together.
    pub max_qps: Option<u32>,
    pub listing: ListingInfo,
    pub listed_at: i64,
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalKind {
    /// List an API in the marketplace, or change its listing: platform admins decide.
    Listing,
    /// Take an API out of the marketplace: platform admins decide.
    Delisting,
    /// An app of another (or the same) workgroup asks to call a listed API: the API's
    /// workgroup admins or its owner decide; approving creates the grant.
    Application,
    /// Publish a version to prod, where the workgroup asks for approval: its admins decide.
    Publish,
    /// Take an API offline from prod, at once or at a set time.
    Offline,
}

/// Where a request stands. Only `pending` ones can be decided or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
    /// By the one who asked, while pending.
    Withdrawn,
    /// By Sluice: what it asked for can no longer happen (the API was deleted, delisted or
    /// taken offline).
    Cancelled,
}

/// One request and, once decided, its decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub id: i64,
    pub kind: ApprovalKind,
    pub state: ApprovalState,
    /// The API's workgroup.
    pub workgroup_id: i64,
    /// `None` once the API is deleted.
    pub api_id: Option<i64>,
    pub api_name: String,
    /// Applications: the app that would be granted, and its workgroup.
    pub app_id: Option<i64>,
    pub applicant_workgroup_id: Option<i64>,
    pub requested_by: String,
    pub reason: String,
    /// What the kind asks for: listing metadata (`listing`), `{qps, validityDays}`
    /// (`application`), `{version}` (`publish`), `{}` otherwise.
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// Users the requester asked to be told of the outcome.
    pub notify: Vec<String>,
    /// `offline`: when it takes effect once approved (`None`: at once).
    pub effective_at: Option<i64>,
    /// `offline`: when it took effect.
    pub applied_at: Option<i64>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    /// The decider's comment, or why Sluice cancelled the request.
    pub comment: String,
    /// `application`, approved: the grant it created (it may since have been revoked).
    pub grant_id: Option<i64>,
    pub created_at: i64,
}

/// How long an approved application's grant lasts, as applicants choose it.
pub const VALIDITY_DAYS: [u32; 3] = [30, 90, 180];

macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.to_ascii_lowercase().as_str() {
                    $($text => Ok($ty::$variant),)*
                    _ => Err(format!(concat!("expected one of: ", $($text, " "),*))),
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(ListingState {
    Draft = "draft",
    Pending = "pending",
    Listed = "listed",
    Rejected = "rejected",
    Delisted = "delisted",
});
text_enum!(ApprovalKind {
    Listing = "listing",
    Delisting = "delisting",
    Application = "application",
    Publish = "publish",
    Offline = "offline",
});
text_enum!(ApprovalState {
    Pending = "pending",
    Approved = "approved",
    Rejected = "rejected",
    Withdrawn = "withdrawn",
    Cancelled = "cancelled",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_rules_name_the_field() {
        let long = ListingInfo { summary: "x".repeat(MAX_SUMMARY_CHARS + 1), ..ListingInfo::default() };
        assert_eq!(long.check().unwrap_err().0, "summary");
        let tags = ListingInfo { tags: vec!["a,b".into()], ..ListingInfo::default() };
        assert_eq!(tags.check().unwrap_err().0, "tags");
        let sample = ListingInfo {
            failure_sample: Some(serde_json::json!("x".repeat(MAX_SAMPLE_BYTES))),
            ..ListingInfo::default()
        };
        assert_eq!(sample.check().unwrap_err().0, "failureSample");
        assert!(ListingInfo::default().check().is_ok());
    }

    #[test]
    fn search_text_holds_name_summary_and_tags_lower_cased() {
        let info =
            ListingInfo { summary: "Orders By Day".into(), tags: vec!["Sales".into()], ..ListingInfo::default() };
        assert_eq!(info.search_text("Orders"), "orders\norders by day\nsales");
    }

    #[test]
    fn kinds_and_states_read_their_text() {
        assert_eq!("Application".parse::<ApprovalKind>().unwrap(), ApprovalKind::Application);
        assert_eq!(ApprovalState::Cancelled.to_string(), "cancelled");
        assert!("listed".parse::<ApprovalState>().is_err());
        assert_eq!("delisted".parse::<ListingState>().unwrap(), ListingState::Delisted);
    }
}
