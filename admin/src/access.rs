//! Who may call which management route. Every route is registered through [`Routes::add`]
//! with its [`Access`]; one guard enforces it before the handler runs, so no handler can
//! forget a check, and the list of routes with their access is what the route-matrix test
//! walks.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawPathParams, Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use catalog::model::{User, Workgroup, WorkgroupRole};
use catalog::now_ms;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use super::AdminState;
use super::reply::AdminError;

/// The least a caller needs for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token (health).
    Public,
    /// Any valid token.
    Authenticated,
    /// Platform administrators only.
    PlatformAdmin,
    /// Platform administrators, or the operator's metrics token (`[metrics] token`,
    /// [`AdminState::metrics_token`]): `/metrics`, for a scraper that is no user.
    Metrics,
    /// Members of the `{workgroup}` in the path with at least this role; platform
    /// administrators act as workgroup admins everywhere.
    Workgroup(WorkgroupRole),
}

/// Ranks roles: viewer < developer < admin.
pub fn rank(role: WorkgroupRole) -> u8 {
    match role {
        WorkgroupRole::Viewer => 1,
        WorkgroupRole::Developer => 2,
        WorkgroupRole::Admin => 3,
    }
}

/// The authenticated caller, for handlers (`Extension<Caller>`).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// The `{workgroup}` of the path and the caller's role in it, on workgroup routes.
    pub workgroup: Option<(Workgroup, WorkgroupRole)>,
}

impl Caller {
    /// The workgroup of a workgroup route (the guard has resolved it).
    pub fn workgroup(&self) -> Result<&Workgroup, AdminError> {
        self.workgroup.as_ref().map(|(w, _)| w).ok_or_else(|| AdminError::forbidden("this route has no workgroup"))
    }
}

/// One registered route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    /// As registered, below `/admin/v1`, e.g. `/workgroups/{workgroup}/members`.
    pub path: &'static str,
    pub access: Access,
    /// The JSON body it reads, if any ([`Routes::body`], [`Routes::optional_body`]).
    pub body: Option<BodySpec>,
    /// The `data` of its successful answer, when described ([`Routes::answers`] and kin).
    pub answer: Option<Answer>,
}

/// Schemas by name, as the management document's `components/schemas` holds them.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// A type described by its schema ([`ToSchema`]): its name under `components/schemas`, and
/// how to collect its schema with every schema it refers to.
#[derive(Clone, Copy)]
pub struct Described {
    name: fn() -> Cow<'static, str>,
    collect: fn(&mut Schemas),
}

impl Described {
    pub fn of<T: ToSchema>() -> Described {
        fn collect<T: ToSchema>(schemas: &mut Schemas) {
            schemas.push((T::name().into_owned(), T::schema()));
            T::schemas(schemas);
        }
        Described { name: T::name, collect: collect::<T> }
    }

    /// The name under `components/schemas`.
    pub fn name(&self) -> String {
        (self.name)().into_owned()
    }

    /// Adds this schema and those it refers to.
    pub fn collect(&self, schemas: &mut Schemas) {
        (self.collect)(schemas)
    }
}

impl std::fmt::Debug for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Two descriptions are the same when they name the same schema.
impl PartialEq for Described {
    fn eq(&self, other: &Described) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Described {}

/// A route's JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodySpec {
    pub schema: Described,
    /// `false` when an empty body is read as `{}` and every field is optional.
    pub required: bool,
}

/// What a successful answer carries as `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    One(Described),
    /// An array of them.
    List(Described),
    /// A page of them: `{items, pageNum, pageSize, total}`.
    Page(Described),
    /// `null`.
    Nothing,
}

/// Builds the router and the list of routes together.
pub struct Routes {
    state: AdminState,
    router: Router<AdminState>,
    specs: Vec<RouteSpec>,
}

impl Routes {
    pub fn new(state: AdminState) -> Routes {
        Routes { state, router: Router::new(), specs: Vec::new() }
    }

    /// Registers `handler` for `method` at `/admin/v1{path}`, guarded by `access`.
    pub fn add(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: MethodRouter<AdminState>,
    ) -> Routes {
        let guard = middleware::from_fn_with_state((self.state.clone(), access), guard);
        self.router = self.router.route(&format!("/admin/v1{path}"), handler.route_layer(guard));
        self.specs.push(RouteSpec { method, path, access, body: None, answer: None });
        self
    }

    /// The route added last reads a JSON body described by `T`.
    pub fn body<T: ToSchema>(self) -> Routes {
        self.last(|spec| spec.body = Some(BodySpec { schema: Described::of::<T>(), required: true }))
    }

    /// The route added last reads a JSON body described by `T`, or none (read as `{}`).
    pub fn optional_body<T: ToSchema>(self) -> Routes {
        self.last(|spec| spec.body = Some(BodySpec { schema: Described::of::<T>(), required: false }))
    }

    /// The route added last answers a `T` as `data`.
    pub fn answers<T: ToSchema>(self) -> Routes {
        self.last(|spec| spec.answer = Some(Answer::One(Described::of::<T>())))
    }

    /// The route added last answers an array of `T`.
    pub fn answers_list<T: ToSchema>(self) -> Routes {
        self.last(|spec| spec.answer = Some(Answer::List(Described::of::<T>())))
    }

    /// The route added last answers a page of `T`.
    pub fn answers_page<T: ToSchema>(self) -> Routes {
        self.last(|spec| spec.answer = Some(Answer::Page(Described::of::<T>())))
    }

    /// The route added last answers `data: null`.
    pub fn answers_nothing(self) -> Routes {
        self.last(|spec| spec.answer = Some(Answer::Nothing))
    }

    fn last(mut self, describe: impl FnOnce(&mut RouteSpec)) -> Routes {
        if let Some(spec) = self.specs.last_mut() {
            describe(spec);
        }
        self
    }

    /// Serves the route added last also at `path` outside `/admin/v1`, behind the same
    /// access: for a tool that expects a fixed path (Prometheus's `/metrics`). Not a route of
    /// its own: the route list and the management document name the route once.
    pub fn also_at(mut self, path: &'static str, handler: MethodRouter<AdminState>) -> Routes {
        if let Some(access) = self.specs.last().map(|spec| spec.access) {
            let guard = middleware::from_fn_with_state((self.state.clone(), access), guard);
            self.router = self.router.route(path, handler.route_layer(guard));
        }
        self
    }

    /// Lets an area of the API register its routes in its own module.
    pub fn extend(self, register: impl FnOnce(Routes) -> Routes) -> Routes {
        register(self)
    }

    pub fn finish(self) -> (Router, Vec<RouteSpec>) {
        (self.router.with_state(self.state), self.specs)
    }
}

async fn guard(
    State((state, access)): State<(AdminState, Access)>,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    // Read the token before awaiting: a request body is not Sync, so no reference to the
    // request may be held across an await.
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let workgroup = params.iter().find(|(k, _)| *k == "workgroup").map(|(_, v)| v.to_owned());
    match authorize(&state, access, token, workgroup).await {
        Ok(Some(caller)) => {
            request.extensions_mut().insert(Arc::new(caller));
            next.run(request).await
        }
        Ok(None) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

async fn authorize(
    state: &AdminState,
    access: Access,
    token: Option<String>,
    workgroup: Option<String>,
) -> Result<Option<Caller>, AdminError> {
    if access == Access::Public {
        return Ok(None);
    }
    let token = token.ok_or_else(AdminError::unauthorized)?;
    if access == Access::Metrics
        && let Some(expected) = &state.metrics_token
        && same_secret(expected.as_bytes(), token.as_bytes())
    {
        return Ok(None);
    }
    let (user, _token) = state.store.authenticate(&token, now_ms()).await?.ok_or_else(AdminError::unauthorized)?;
    match access {
        Access::Public | Access::Authenticated => Ok(Some(Caller { user, workgroup: None })),
        Access::PlatformAdmin | Access::Metrics if user.platform_admin => Ok(Some(Caller { user, workgroup: None })),
        Access::PlatformAdmin | Access::Metrics => {
            Err(AdminError::forbidden("only platform administrators may do this"))
        }
        Access::Workgroup(least) => {
            let name = workgroup.ok_or_else(|| AdminError::forbidden("this route names no workgroup"))?;
            // Missing and not-a-member answer alike, so names of other teams' workgroups leak nothing.
            let hidden = || AdminError::not_found("workgroup", &name);
            let workgroup = state.store.workgroup_by_name(&name).await.map_err(|_| hidden())?;
            let role = if user.platform_admin {
                WorkgroupRole::Admin
            } else {
                state.store.membership(workgroup.id, user.id).await?.ok_or_else(hidden)?
            };
            if rank(role) < rank(least) {
                return Err(AdminError::forbidden(format!(
                    "your role in `{name}` is {}; this needs {} or above",
                    role_name(role),
                    role_name(least)
                )));
            }
            Ok(Some(Caller { user, workgroup: Some((workgroup, role)) }))
        }
    }
}

/// Whether two secrets are equal, in time that depends on their lengths only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

pub fn role_name(role: WorkgroupRole) -> &'static str {
    match role {
        WorkgroupRole::Viewer => "viewer",
        WorkgroupRole::Developer => "developer",
        WorkgroupRole::Admin => "admin",
    }
}
