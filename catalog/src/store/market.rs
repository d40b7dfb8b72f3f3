//! Marketplace listings and approvals: the requests that wait for a decision, and what
//! deciding one does.
//!
//! Every write here that concerns an API locks the API's row first (`lock_api`), as every
//! other writer of the API does, so requests, decisions, deletes, grants and publications of
//! one API queue instead of racing or deadlocking. A decision is one transaction: the
//! request's state moves from `pending` only once (a second decider finds it decided:
//! `Conflict`), and what it approves — the listing, the grant, the publication — is written in
//! the same transaction or not at all.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::apis::lock_api;
use super::callers::grant_in;
use super::publications::publish_in;
use super::{Store, StoreError, bump_revision, from_json, is_unique_violation, now_millis, to_json};
use crate::model::{
    Approval, ApprovalKind, ApprovalState, Environment, Grant, Listing, ListingInfo, ListingState, MarketEntry,
    SecurityLevel,
};

/// The columns `approval_from_row` reads.
macro_rules! approval_columns {
    () => {
        "id, kind, state, workgroup_id, api_id, api_name, app_id, applicant_workgroup_id, requested_by, reason, \
         request_json, notify_json, effective_at, applied_at, decided_by, decided_at, comment, grant_id, created_at"
    };
}

/// Who asks, why, and whom to tell.
#[derive(Debug, Clone, Copy)]
pub struct Asking<'a> {
    pub by: &'a str,
    pub reason: &'a str,
    pub notify: &'a [String],
}

/// A decision on a pending request.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    pub approve: bool,
    pub by: &'a str,
    pub comment: &'a str,
    /// Applications: the grant's QPS and expiry (what was asked for unless the decider
    /// changed it).
    pub qps: Option<u32>,
    pub expires_at: Option<i64>,
}

/// Marketplace search: every filter optional, text matched in name, summary and tags.
#[derive(Debug, Clone, Default)]
pub struct MarketQuery {
    pub text: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub workgroup_id: Option<i64>,
    pub security_level: Option<SecurityLevel>,
    pub sort: MarketSort,
    pub limit: u64,
    pub offset: u64,
}

/// The order of marketplace results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MarketSort {
    /// By API name, then id.
    #[default]
    Name,
    /// Most recently listed first.
    Newest,
}

/// Which requests a list holds.
#[derive(Debug, Clone)]
pub enum ApprovalScope {
    /// Pending requests the user may decide: listings for platform admins, the rest for the
    /// API workgroup's admins (platform admins act as admins everywhere), applications also
    /// for the API's owner; never the user's own.
    ToDecide { user_id: i64, user_name: String, platform_admin: bool },
    /// What the user asked for.
    RequestedBy(String),
    /// Applications made for apps of this workgroup.
    Applicant(i64),
    /// Requests about this workgroup's APIs.
    Provider(i64),
}

/// A page of requests.
#[derive(Debug, Clone)]
pub struct ApprovalQuery {
    pub scope: ApprovalScope,
    /// Requests about this API only.
    pub api_id: Option<i64>,
    pub kind: Option<ApprovalKind>,
    pub state: Option<ApprovalState>,
    pub limit: u64,
    pub offset: u64,
}

/// One value of a query assembled from filters.
enum Bind {
    Text(String),
    Int(i64),
}

impl Store {
    // -----------------------------------------------------------------------------------------
    // Listings

    /// The API's listing; `None` when its team has not written one.
    pub async fn listing(&self, api_id: i64) -> Result<Option<Listing>, StoreError> {
        let row = sqlx::query(
            "SELECT api_id, workgroup_id, state, draft_json, listed_json, listed_at, created_at, updated_at \
             FROM listings WHERE api_id = $1",
        )
        .bind(api_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(listing_from_row).transpose()
    }

    /// Creates the API's listing as a draft, or replaces its draft. What the marketplace
    /// shows changes only when a platform admin approves a submission.
    pub async fn save_listing_draft(&self, api_id: i64, info: &ListingInfo) -> Result<Listing, StoreError> {
        info.check().map_err(|(field, why)| StoreError::Invalid(format!("{field}: {why}")))?;
        let mut tx = self.pool.begin().await?;
        lock_api(&mut tx, api_id).await?;
        let now = now_millis();
        sqlx::query(
            "INSERT INTO listings (api_id, workgroup_id, state, draft_json, created_at, updated_at) \
             SELECT id, workgroup_id, 'draft', $2, $3, $3 FROM apis WHERE id = $1 \
             ON CONFLICT (api_id) DO UPDATE SET draft_json = excluded.draft_json, updated_at = excluded.updated_at",
        )
        .bind(api_id)
        .bind(to_json("listing", info)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.listing(api_id).await?.ok_or_else(|| StoreError::not_found("listing of API", api_id))
    }

    /// Asks platform admins to list the API with its listing's draft (or to change what is
    /// listed). The API must be published to prod and public; `Conflict` while a listing or
    /// delisting request of it waits.
    pub async fn submit_listing(&self, api_id: i64, asking: Asking<'_>) -> Result<Approval, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (workgroup_id, api_name) = lock_api_named(&mut tx, api_id).await?;
        let listing = sqlx::query("SELECT state, draft_json FROM listings WHERE api_id = $1")
            .bind(api_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::Invalid(format!("API `{api_name}` has no listing yet: write its listing first"))
            })?;
        require_prod(&mut tx, api_id, &api_name).await?;
        let api = sqlx::query("SELECT visible_range FROM apis WHERE id = $1").bind(api_id).fetch_one(&mut *tx).await?;
        if api.try_get::<String, _>("visible_range")? != "public" {
            return Err(StoreError::Invalid(format!(
                "API `{api_name}` is private to its workgroup: set its visibleRange to public before listing it"
            )));
        }
        refuse_pending(&mut tx, api_id, ApprovalKind::Delisting, &api_name).await?;
        let draft: String = listing.try_get("draft_json")?;
        let state = listing_state(&listing)?;
        let approval = insert_approval(
            &mut tx,
            ApprovalKind::Listing,
            workgroup_id,
            api_id,
            &api_name,
            None,
            asking,
            &draft,
            None,
        )
        .await?;
        if state != ListingState::Listed {
            set_listing_state(&mut tx, api_id, ListingState::Pending).await?;
        }
        tx.commit().await?;
        Ok(approval)
    }

    /// Asks platform admins to take the API out of the marketplace. `Invalid` when it is not
    /// listed; `Conflict` while another listing or delisting request of it waits.
    pub async fn request_delisting(&self, api_id: i64, asking: Asking<'_>) -> Result<Approval, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (workgroup_id, api_name) = lock_api_named(&mut tx, api_id).await?;
        if listing_state_of(&mut tx, api_id).await? != Some(ListingState::Listed) {
            return Err(StoreError::Invalid(format!("API `{api_name}` is not listed")));
        }
        refuse_pending(&mut tx, api_id, ApprovalKind::Listing, &api_name).await?;
        let approval = insert_approval(
            &mut tx,
            ApprovalKind::Delisting,
            workgroup_id,
            api_id,
            &api_name,
            None,
            asking,
            "{}",
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(approval)
    }

    /// A page of listed APIs and how many match in all.
    pub async fn marketplace(&self, query: &MarketQuery) -> Result<(Vec<MarketEntry>, u64), StoreError> {
        let mut terms = vec!["l.state = 'listed'".to_owned()];
        let mut binds: Vec<Bind> = Vec::new();
        let mut placeholder = |bind: Bind| {
            binds.push(bind);
            format!("${}", binds.len())
        };
        if let Some(text) = query.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let escaped = text.to_lowercase().replace('!', "!!").replace('%', "!%").replace('_', "!_");
            let p = placeholder(Bind::Text(format!("%{escaped}%")));
            terms.push(format!("l.search_text LIKE {p} ESCAPE '!'"));
        }
        if let Some(category) = &query.category {
            let p = placeholder(Bind::Text(category.clone()));
            terms.push(format!("l.category = {p}"));
        }
        if let Some(tag) = &query.tag {
            let p = placeholder(Bind::Text(tag.clone()));
            terms.push(format!("EXISTS (SELECT 1 FROM listing_tags t WHERE t.api_id = l.api_id AND t.tag = {p})"));
        }
        if let Some(id) = query.workgroup_id {
            let p = placeholder(Bind::Int(id));
            terms.push(format!("a.workgroup_id = {p}"));
        }
        if let Some(level) = query.security_level {
            let p = placeholder(Bind::Text(level.as_str().to_owned()));
            terms.push(format!("a.security_level = {p}"));
        }
        let filter = terms.join(" AND ");
        let from = "FROM listings l JOIN apis a ON a.id = l.api_id JOIN workgroups w ON w.id = a.workgroup_id";
        let total: i64 =
            bind_all(sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n {from} WHERE {filter}"))), &binds)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
        let order = match query.sort {
            MarketSort::Name => "a.name, a.id",
            MarketSort::Newest => "l.listed_at DESC, a.id DESC",
        };
        let sql = format!(
            "SELECT {MARKET_COLUMNS} {from} WHERE {filter} ORDER BY {order} LIMIT {} OFFSET {}",
            query.limit, query.offset
        );
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds).fetch_all(&self.pool).await?;
        let entries = rows.iter().map(market_entry_from_row).collect::<Result<_, _>>()?;
        Ok((entries, u64::try_from(total).unwrap_or_default()))
    }

    /// One listed API; `NotFound` when it is not listed (whatever else it is).
    pub async fn market_entry(&self, api_id: i64) -> Result<MarketEntry, StoreError> {
        let sql = format!(
            "SELECT {MARKET_COLUMNS} FROM listings l JOIN apis a ON a.id = l.api_id \
             JOIN workgroups w ON w.id = a.workgroup_id WHERE l.api_id = $1 AND l.state = 'listed'"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(api_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("listed API", api_id))?;
        market_entry_from_row(&row)
    }

    /// The ids of every listed API, by name: what the marketplace's document describes.
    pub async fn listed_api_ids(&self) -> Result<Vec<i64>, StoreError> {
        sqlx::query("SELECT l.api_id FROM listings l JOIN apis a ON a.id = l.api_id WHERE l.state = 'listed' ORDER BY a.name, a.id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok(row.try_get("api_id")?))
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Requests

    /// An app asks to call a listed API. `NotFound` unless the API is listed; `Conflict`
    /// while the app has a pending application for it. `request` is what is asked for
    /// (`{qps, validityDays}`), kept for the decider.
    pub async fn apply_for_access(
        &self,
        api_id: i64,
        app_id: i64,
        asking: Asking<'_>,
        request: &serde_json::Value,
    ) -> Result<Approval, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (workgroup_id, api_name) = match lock_api_named(&mut tx, api_id).await {
            Err(StoreError::NotFound { .. }) => return Err(StoreError::not_found("listed API", api_id)),
            found => found?,
        };
        if listing_state_of(&mut tx, api_id).await? != Some(ListingState::Listed) {
            return Err(StoreError::not_found("listed API", api_id));
        }
        let app = sqlx::query("SELECT workgroup_id FROM apps WHERE id = $1")
            .bind(app_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("app", app_id))?;
        let applicant: i64 = app.try_get("workgroup_id")?;
        let request = to_json("application", request)?;
        let approval = insert_approval(
            &mut tx,
            ApprovalKind::Application,
            workgroup_id,
            api_id,
            &api_name,
            Some((app_id, applicant)),
            asking,
            &request,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(approval)
    }

    /// Asks the workgroup's admins to publish version `number` to prod. `NotFound` for an
    /// unknown version; `Conflict` while another publish request of the API waits.
    pub async fn request_publish(&self, api_id: i64, number: i64, asking: Asking<'_>) -> Result<Approval, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (workgroup_id, api_name) = lock_api_named(&mut tx, api_id).await?;
        sqlx::query("SELECT number FROM api_versions WHERE api_id = $1 AND number = $2")
            .bind(api_id)
            .bind(number)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("version", format!("V{number} of API {api_id}")))?;
        let request = serde_json::json!({"version": number}).to_string();
        let approval = insert_approval(
            &mut tx,
            ApprovalKind::Publish,
            workgroup_id,
            api_id,
            &api_name,
            None,
            asking,
            &request,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(approval)
    }

    /// Asks to take the API offline from prod at `effective_at` (`None`: at once). With
    /// `approved` the request needs no decision (the workgroup does not ask for one) and is
    /// stored approved, to take effect at its time. `NotFound` when prod does not serve the
    /// API; `Conflict` while another offline request of it waits.
    pub async fn request_offline(
        &self,
        api_id: i64,
        asking: Asking<'_>,
        effective_at: Option<i64>,
        approved: bool,
    ) -> Result<Approval, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (workgroup_id, api_name) = lock_api_named(&mut tx, api_id).await?;
        prod_version(&mut tx, api_id)
            .await?
            .ok_or_else(|| StoreError::not_found("publication", format!("of API {api_id} in prod")))?;
        let mut approval = insert_approval(
            &mut tx,
            ApprovalKind::Offline,
            workgroup_id,
            api_id,
            &api_name,
            None,
            asking,
            "{}",
            effective_at,
        )
        .await?;
        if approved {
            let row = sqlx::query(concat!(
                "UPDATE approvals SET state = 'approved', decided_by = $2, decided_at = $3, \
                 comment = 'no approval needed' WHERE id = $1 RETURNING ",
                approval_columns!()
            ))
            .bind(approval.id)
            .bind(asking.by)
            .bind(now_millis())
            .fetch_one(&mut *tx)
            .await?;
            approval = approval_from_row(&row)?;
        }
        tx.commit().await?;
        Ok(approval)
    }

    /// One request.
    pub async fn approval(&self, id: i64) -> Result<Approval, StoreError> {
        let row = sqlx::query(concat!("SELECT ", approval_columns!(), " FROM approvals WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("request", id))?;
        approval_from_row(&row)
    }

    /// A page of requests, newest first, and how many match in all.
    pub async fn approvals(&self, query: &ApprovalQuery) -> Result<(Vec<Approval>, u64), StoreError> {
        let mut terms = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        let mut placeholder = |bind: Bind| {
            binds.push(bind);
            format!("${}", binds.len())
        };
        match &query.scope {
            ApprovalScope::ToDecide { user_id, user_name, platform_admin } => {
                let name = placeholder(Bind::Text(user_name.clone()));
                terms.push(format!("state = 'pending' AND requested_by <> {name}"));
                if !platform_admin {
                    let user = placeholder(Bind::Int(*user_id));
                    terms.push(format!(
                        "(kind IN ('application', 'publish', 'offline') AND EXISTS (SELECT 1 FROM workgroup_members m \
                         WHERE m.workgroup_id = approvals.workgroup_id AND m.user_id = {user} AND m.role = 'admin') \
                         OR kind = 'application' AND EXISTS (SELECT 1 FROM apis a WHERE a.id = approvals.api_id \
                         AND a.owner = {name}))"
                    ));
                }
            }
            ApprovalScope::RequestedBy(name) => {
                let p = placeholder(Bind::Text(name.clone()));
                terms.push(format!("requested_by = {p}"));
            }
            ApprovalScope::Applicant(id) => {
                let p = placeholder(Bind::Int(*id));
                terms.push(format!("kind = 'application' AND applicant_workgroup_id = {p}"));
            }
            ApprovalScope::Provider(id) => {
                let p = placeholder(Bind::Int(*id));
                terms.push(format!("workgroup_id = {p}"));
            }
        }
        if let Some(api_id) = query.api_id {
            let p = placeholder(Bind::Int(api_id));
            terms.push(format!("api_id = {p}"));
        }
        if let Some(kind) = query.kind {
            let p = placeholder(Bind::Text(kind.as_str().to_owned()));
            terms.push(format!("kind = {p}"));
        }
        if let Some(state) = query.state {
            let p = placeholder(Bind::Text(state.as_str().to_owned()));
            terms.push(format!("state = {p}"));
        }
        let filter = terms.join(" AND ");
        let total: i64 = bind_all(
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM approvals WHERE {filter}"))),
            &binds,
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let sql = format!(
            "SELECT {} FROM approvals WHERE {filter} ORDER BY id DESC LIMIT {} OFFSET {}",
            approval_columns!(),
            query.limit,
            query.offset
        );
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds).fetch_all(&self.pool).await?;
        let approvals = rows.iter().map(approval_from_row).collect::<Result<_, _>>()?;
        Ok((approvals, u64::try_from(total).unwrap_or_default()))
    }

    /// Decides a pending request and does what it approves, in one transaction. Deciding
    /// again the same way as the same user returns the request unchanged; any other decision
    /// of a decided request is `Conflict`, as is approving what can no longer happen (the API
    /// was taken offline, delisted or deleted meanwhile; the request is then left pending).
    /// Who may decide is the caller's check.
    pub async fn decide(&self, id: i64, decision: Decision<'_>) -> Result<Approval, StoreError> {
        let before = self.approval(id).await?;
        let mut tx = self.pool.begin().await?;
        if let Some(api_id) = before.api_id {
            match lock_api(&mut tx, api_id).await {
                // Deleted meanwhile: the delete cancelled the request, found below.
                Err(StoreError::NotFound { .. }) => {}
                locked => locked?,
            }
        }
        if let (ApprovalKind::Application, Some(app_id)) = (before.kind, before.app_id) {
            // The app's row before the request's, as deleting the app takes them.
            sqlx::query("UPDATE apps SET name = name WHERE id = $1").bind(app_id).execute(&mut *tx).await?;
        }
        let outcome = if decision.approve { ApprovalState::Approved } else { ApprovalState::Rejected };
        let row = sqlx::query(concat!(
            "UPDATE approvals SET state = $2, decided_by = $3, decided_at = $4, comment = $5 \
             WHERE id = $1 AND state = 'pending' RETURNING ",
            approval_columns!()
        ))
        .bind(id)
        .bind(outcome.as_str())
        .bind(decision.by)
        .bind(now_millis())
        .bind(decision.comment)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            let now = self.approval(id).await?;
            if now.state == outcome && now.decided_by.as_deref() == Some(decision.by) {
                return Ok(now);
            }
            return Err(StoreError::Conflict(format!("request {id} is already {}", now.state)));
        };
        let mut approval = approval_from_row(&row)?;
        let api_id = approval.api_id.ok_or_else(|| StoreError::Conflict(format!("request {id}: the API is gone")))?;
        if decision.approve {
            approve_in(&mut tx, &mut approval, api_id, decision).await?;
        } else if approval.kind == ApprovalKind::Listing {
            // A first listing is refused; a change of a listed API leaves it listed as it was.
            sqlx::query(
                "UPDATE listings SET state = 'rejected', updated_at = $2 WHERE api_id = $1 AND state = 'pending'",
            )
            .bind(api_id)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(approval)
    }

    /// The requester takes a pending request back. `Conflict` once it is decided; `NotFound`
    /// for another user's request.
    pub async fn withdraw(&self, id: i64, by: &str) -> Result<Approval, StoreError> {
        let before = self.approval(id).await?;
        if before.requested_by != by {
            return Err(StoreError::not_found("request", id));
        }
        let mut tx = self.pool.begin().await?;
        if let Some(api_id) = before.api_id {
            match lock_api(&mut tx, api_id).await {
                Err(StoreError::NotFound { .. }) => {}
                locked => locked?,
            }
        }
        let row = sqlx::query(concat!(
            "UPDATE approvals SET state = 'withdrawn', decided_by = $2, decided_at = $3 \
             WHERE id = $1 AND state = 'pending' RETURNING ",
            approval_columns!()
        ))
        .bind(id)
        .bind(by)
        .bind(now_millis())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            let now = self.approval(id).await?;
            if now.state == ApprovalState::Withdrawn {
                return Ok(now);
            }
            return Err(StoreError::Conflict(format!("request {id} is already {}", now.state)));
        };
        let approval = approval_from_row(&row)?;
        if let (ApprovalKind::Listing, Some(api_id)) = (approval.kind, approval.api_id) {
            // Back to where it was: listed if it ever was, a draft otherwise.
            sqlx::query(
                "UPDATE listings SET state = CASE WHEN listed_json IS NULL THEN 'draft' ELSE 'listed' END, \
                 updated_at = $2 WHERE api_id = $1 AND state = 'pending'",
            )
            .bind(api_id)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(approval)
    }

    /// Takes offline what approved offline requests scheduled up to `now`, each in its own
    /// transaction; returns the requests applied.
    pub async fn apply_due_offlines(&self, now: i64) -> Result<Vec<Approval>, StoreError> {
        let due = sqlx::query(
            "SELECT id, api_id FROM approvals WHERE kind = 'offline' AND state = 'approved' \
             AND applied_at IS NULL AND effective_at <= $1 AND api_id IS NOT NULL ORDER BY id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut applied = Vec::new();
        for row in &due {
            let (id, api_id): (i64, i64) = (row.try_get("id")?, row.try_get("api_id")?);
            let mut tx = self.pool.begin().await?;
            match lock_api(&mut tx, api_id).await {
                Err(StoreError::NotFound { .. }) => continue,
                locked => locked?,
            }
            let claimed = sqlx::query(concat!(
                "UPDATE approvals SET applied_at = $2 WHERE id = $1 AND applied_at IS NULL RETURNING ",
                approval_columns!()
            ))
            .bind(id)
            .bind(now_millis())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(claimed) = claimed else { continue };
            unpublish_prod_in(&mut tx, api_id).await?;
            bump_revision(&mut tx).await?;
            tx.commit().await?;
            applied.push(approval_from_row(&claimed)?);
        }
        Ok(applied)
    }
}

/// What approving does, per kind, inside the decision's transaction.
async fn approve_in(
    tx: &mut AnyConnection,
    approval: &mut Approval,
    api_id: i64,
    decision: Decision<'_>,
) -> Result<(), StoreError> {
    let now = now_millis();
    match approval.kind {
        ApprovalKind::Listing => {
            prod_version(tx, api_id).await?.ok_or_else(|| {
                StoreError::Conflict(format!("API `{}` is no longer published to prod", approval.api_name))
            })?;
            let info: ListingInfo = serde_json::from_value(approval.request.clone())
                .map_err(|e| StoreError::Corrupt(format!("listing request {}: {e}", approval.id)))?;
            sqlx::query(
                "UPDATE listings SET state = 'listed', listed_json = $2, category = $3, search_text = $4, \
                 listed_at = $5, updated_at = $5 WHERE api_id = $1",
            )
            .bind(api_id)
            .bind(to_json("listing", &info)?)
            .bind(&info.category)
            .bind(info.search_text(&approval.api_name))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM listing_tags WHERE api_id = $1").bind(api_id).execute(&mut *tx).await?;
            for tag in &info.tags {
                sqlx::query("INSERT INTO listing_tags (api_id, tag) VALUES ($1, $2)")
                    .bind(api_id)
                    .bind(tag)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        ApprovalKind::Delisting => delist_in(tx, api_id, "the API was delisted").await?,
        ApprovalKind::Application => {
            if listing_state_of(tx, api_id).await? != Some(ListingState::Listed) {
                return Err(StoreError::Conflict(format!("API `{}` is no longer listed", approval.api_name)));
            }
            let app_id = approval
                .app_id
                .ok_or_else(|| StoreError::Conflict(format!("request {}: the app is gone", approval.id)))?;
            let grant = Grant {
                id: 0,
                api_id,
                app_id,
                expires_at: decision.expires_at,
                qps: decision.qps,
                created_at: 0,
                created_by: decision.by.to_owned(),
                application_id: Some(approval.id),
            };
            let grant = grant_in(tx, &grant).await?;
            sqlx::query("UPDATE approvals SET grant_id = $2 WHERE id = $1")
                .bind(approval.id)
                .bind(grant.id)
                .execute(&mut *tx)
                .await?;
            approval.grant_id = Some(grant.id);
        }
        ApprovalKind::Publish => {
            let number = approval
                .request
                .get("version")
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| StoreError::Corrupt(format!("publish request {} names no version", approval.id)))?;
            publish_in(tx, api_id, Environment::Prod, number, true).await?;
        }
        ApprovalKind::Offline => {
            if approval.effective_at.is_none_or(|at| at <= now) {
                unpublish_prod_in(tx, api_id).await?;
                sqlx::query("UPDATE approvals SET applied_at = $2 WHERE id = $1")
                    .bind(approval.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                approval.applied_at = Some(now);
            }
        }
    }
    Ok(())
}

/// Stops prod serving the API (if it still does) and delists it. The API's row is locked.
async fn unpublish_prod_in(tx: &mut AnyConnection, api_id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM publications WHERE api_id = $1 AND environment = 'prod'")
        .bind(api_id)
        .execute(&mut *tx)
        .await?;
    delist_in(tx, api_id, "the API was taken offline").await
}

/// Takes the API out of the marketplace (a pending first listing too) and cancels the
/// requests that no longer make sense: pending listings, delistings and applications. The
/// API's row is locked.
pub(super) async fn delist_in(tx: &mut AnyConnection, api_id: i64, why: &str) -> Result<(), StoreError> {
    let now = now_millis();
    sqlx::query(
        "UPDATE listings SET state = 'delisted', updated_at = $2 WHERE api_id = $1 AND state IN ('listed', 'pending')",
    )
    .bind(api_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE approvals SET state = 'cancelled', decided_at = $2, comment = $3 \
         WHERE api_id = $1 AND state = 'pending' AND kind IN ('listing', 'delisting', 'application')",
    )
    .bind(api_id)
    .bind(now)
    .bind(why)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Cancels every pending request naming `column = id` (an API or an app being deleted).
pub(super) async fn cancel_pending(
    tx: &mut AnyConnection,
    column: &'static str,
    id: i64,
    why: &str,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE approvals SET state = 'cancelled', decided_at = $2, comment = $3 WHERE {column} = $1 AND state = 'pending'"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(now_millis()).bind(why).execute(&mut *tx).await?;
    Ok(())
}

/// Locks the API's row and returns its workgroup and name.
async fn lock_api_named(tx: &mut AnyConnection, api_id: i64) -> Result<(i64, String), StoreError> {
    let row = sqlx::query("UPDATE apis SET name = name WHERE id = $1 RETURNING workgroup_id, name")
        .bind(api_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("API", api_id))?;
    Ok((row.try_get("workgroup_id")?, row.try_get("name")?))
}

/// The version prod serves, if any.
async fn prod_version(tx: &mut AnyConnection, api_id: i64) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT version FROM publications WHERE api_id = $1 AND environment = 'prod'")
        .bind(api_id)
        .fetch_optional(&mut *tx)
        .await?;
    row.map(|r| r.try_get("version")).transpose().map_err(Into::into)
}

async fn require_prod(tx: &mut AnyConnection, api_id: i64, api_name: &str) -> Result<(), StoreError> {
    match prod_version(tx, api_id).await? {
        Some(_) => Ok(()),
        None => {
            Err(StoreError::Invalid(format!("API `{api_name}` is not published to prod: only online APIs are listed")))
        }
    }
}

/// `Conflict` while a request of `kind` waits for the API.
async fn refuse_pending(
    tx: &mut AnyConnection,
    api_id: i64,
    kind: ApprovalKind,
    api_name: &str,
) -> Result<(), StoreError> {
    let pending = sqlx::query("SELECT id FROM approvals WHERE api_id = $1 AND kind = $2 AND state = 'pending'")
        .bind(api_id)
        .bind(kind.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    match pending {
        Some(row) => Err(StoreError::Conflict(format!(
            "a {kind} request of API `{api_name}` is waiting for a decision (request {})",
            row.try_get::<i64, _>("id")?
        ))),
        None => Ok(()),
    }
}

/// Where the API's listing stands; `None` when it has none.
async fn listing_state_of(tx: &mut AnyConnection, api_id: i64) -> Result<Option<ListingState>, StoreError> {
    let row = sqlx::query("SELECT state FROM listings WHERE api_id = $1").bind(api_id).fetch_optional(&mut *tx).await?;
    row.as_ref().map(listing_state).transpose()
}

async fn set_listing_state(tx: &mut AnyConnection, api_id: i64, state: ListingState) -> Result<(), StoreError> {
    sqlx::query("UPDATE listings SET state = $2, updated_at = $3 WHERE api_id = $1")
        .bind(api_id)
        .bind(state.as_str())
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Inserts a pending request; a second pending one of the same kind, API and app is
/// `Conflict`.
#[allow(clippy::too_many_arguments)]
async fn insert_approval(
    tx: &mut AnyConnection,
    kind: ApprovalKind,
    workgroup_id: i64,
    api_id: i64,
    api_name: &str,
    app: Option<(i64, i64)>,
    asking: Asking<'_>,
    request_json: &str,
    effective_at: Option<i64>,
) -> Result<Approval, StoreError> {
    let row = sqlx::query(concat!(
        "INSERT INTO approvals (kind, state, workgroup_id, api_id, api_name, app_id, applicant_workgroup_id, \
         requested_by, reason, request_json, notify_json, effective_at, created_at) \
         VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
        approval_columns!()
    ))
    .bind(kind.as_str())
    .bind(workgroup_id)
    .bind(api_id)
    .bind(api_name)
    .bind(app.map(|(app_id, _)| app_id))
    .bind(app.map(|(_, workgroup)| workgroup))
    .bind(asking.by)
    .bind(asking.reason)
    .bind(request_json)
    .bind(to_json("people to notify", &asking.notify)?)
    .bind(effective_at)
    .bind(now_millis())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            let of = if kind == ApprovalKind::Application { " for this app" } else { "" };
            StoreError::Conflict(format!("a {kind} request of API `{api_name}`{of} is already waiting for a decision"))
        } else {
            e.into()
        }
    })?;
    approval_from_row(&row)
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text.as_str()),
            Bind::Int(value) => query.bind(*value),
        };
    }
    query
}

/// The columns `market_entry_from_row` reads, from `listings l`, `apis a`, `workgroups w`.
const MARKET_COLUMNS: &str = "a.id AS api_id, a.name AS api_name, a.method AS api_method, a.path AS api_path, \
     a.description AS api_description, a.workgroup_id AS api_workgroup_id, w.name AS workgroup_name, \
     a.owner AS api_owner, a.security_level AS api_security_level, a.max_qps AS api_max_qps, \
     l.listed_json AS listed_json, l.listed_at AS listed_at";

fn market_entry_from_row(row: &AnyRow) -> Result<MarketEntry, StoreError> {
    let api_id: i64 = row.try_get("api_id")?;
    let listed: Option<String> = row.try_get("listed_json")?;
    let level: String = row.try_get("api_security_level")?;
    let max_qps: Option<i64> = row.try_get("api_max_qps")?;
    Ok(MarketEntry {
        api_id,
        name: row.try_get("api_name")?,
        method: row.try_get("api_method")?,
        path: row.try_get("api_path")?,
        description: row.try_get("api_description")?,
        workgroup_id: row.try_get("api_workgroup_id")?,
        workgroup: row.try_get("workgroup_name")?,
        owner: row.try_get("api_owner")?,
        security_level: level.parse().map_err(|e: String| StoreError::Corrupt(format!("API {api_id}: {e}")))?,
        max_qps: max_qps.map(|q| u32::try_from(q).unwrap_or(u32::MAX)),
        listing: from_json(&format!("listing of API {api_id}"), listed.as_deref().unwrap_or("{}"))?,
        listed_at: row.try_get::<Option<i64>, _>("listed_at")?.unwrap_or_default(),
    })
}

fn listing_state(row: &AnyRow) -> Result<ListingState, StoreError> {
    row.try_get::<String, _>("state")?.parse().map_err(StoreError::Corrupt)
}

fn listing_from_row(row: &AnyRow) -> Result<Listing, StoreError> {
    let api_id: i64 = row.try_get("api_id")?;
    let what = format!("listing of API {api_id}");
    let listed: Option<String> = row.try_get("listed_json")?;
    Ok(Listing {
        api_id,
        workgroup_id: row.try_get("workgroup_id")?,
        state: listing_state(row)?,
        draft: from_json(&what, &row.try_get::<String, _>("draft_json")?)?,
        listed: listed.as_deref().map(|text| from_json(&what, text)).transpose()?,
        listed_at: row.try_get("listed_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn approval_from_row(row: &AnyRow) -> Result<Approval, StoreError> {
    let id: i64 = row.try_get("id")?;
    let what = format!("request {id}");
    let corrupt = |e: String| StoreError::Corrupt(format!("{what}: {e}"));
    Ok(Approval {
        id,
        kind: row.try_get::<String, _>("kind")?.parse().map_err(corrupt)?,
        state: row.try_get::<String, _>("state")?.parse().map_err(corrupt)?,
        workgroup_id: row.try_get("workgroup_id")?,
        api_id: row.try_get("api_id")?,
        api_name: row.try_get("api_name")?,
        app_id: row.try_get("app_id")?,
        applicant_workgroup_id: row.try_get("applicant_workgroup_id")?,
        requested_by: row.try_get("requested_by")?,
        reason: row.try_get("reason")?,
        request: from_json(&what, &row.try_get::<String, _>("request_json")?)?,
        notify: from_json(&what, &row.try_get::<String, _>("notify_json")?)?,
        effective_at: row.try_get("effective_at")?,
        applied_at: row.try_get("applied_at")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        comment: row.try_get("comment")?,
        grant_id: row.try_get("grant_id")?,
        created_at: row.try_get("created_at")?,
    })
}
