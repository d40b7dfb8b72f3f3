//! Phase *route*: the environment a call asks for (`X-Sluice-Env`) and the route that serves
//! its method and path in that environment's table.

use std::sync::Arc;

use catalog::model::Environment;
use http::{HeaderName, HeaderValue, Method, header};
use plugins::format::Media;
use plugins::{ApiError, ErrorCode};

use super::answer::Answer;
use super::{Edge, Routed};
use crate::routes::Lookup;

impl Edge {
    /// Picks the environment (`env` is the raw `X-Sluice-Env`) and finds the route, once per
    /// request, in whichever lane reads it; a refusal is answered once the request has an id.
    pub(crate) fn route(
        &self,
        method: &Method,
        path: &str,
        env: Option<&[u8]>,
    ) -> std::result::Result<Routed, Refused> {
        let env = environment(env)?;
        let snapshot = self.snapshot.load_full();
        let (route, path_params) = match snapshot.table(env).lookup(method, path) {
            Lookup::Found { route, path_params } => (Arc::clone(route), path_params),
            Lookup::MethodNotAllowed { allowed } => {
                let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
                let error = ApiError::new(
                    ErrorCode::MethodNotAllowed,
                    format!("{path} does not accept {method}; it accepts {allow}"),
                );
                let header = HeaderValue::from_str(&allow).ok().map(|value| Box::new((header::ALLOW, value)));
                return Err(Refused { error, header });
            }
            Lookup::NotFound => {
                return Err(ApiError::new(
                    ErrorCode::NotFoundApi,
                    format!("no API is published at {method} {path} in the {} environment", env.as_str()),
                )
                .into());
            }
        };
        Ok(Routed { snapshot, route, path_params, env })
    }
}

/// Why a request was not routed or its caller not admitted, answered once the request has
/// an id.
pub(crate) struct Refused {
    pub(super) error: ApiError,
    /// `Allow` of a 405, `Retry-After` of a 429 (boxed: refusals are rare, results small).
    pub(super) header: Option<Box<(HeaderName, HeaderValue)>>,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Refused {
        Refused { error, header: None }
    }
}

impl Refused {
    pub(crate) fn answer(self, request_id: &str) -> Answer {
        self.answer_in(request_id, Media::Json)
    }

    /// The refusal for a caller whose errors go out as `media` (`Answer::error_in`).
    pub(crate) fn answer_in(self, request_id: &str, media: Media) -> Answer {
        let answer = Answer::error_in(&self.error, request_id, media);
        match self.header {
            Some(header) => answer.with_header(header.0, header.1),
            None => answer,
        }
    }
}

/// The environment `X-Sluice-Env` selects: production when absent.
fn environment(value: Option<&[u8]>) -> std::result::Result<Environment, ApiError> {
    match value {
        None => Ok(Environment::Prod),
        Some(v) if v.eq_ignore_ascii_case(b"prod") || v.eq_ignore_ascii_case(b"online") => Ok(Environment::Prod),
        Some(v) if v.eq_ignore_ascii_case(b"test") || v.eq_ignore_ascii_case(b"ppe") => Ok(Environment::Test),
        Some(v) => Err(ApiError::invalid_parameter(
            "X-Sluice-Env",
            "test or prod",
            &String::from_utf8_lossy(v).to_ascii_lowercase(),
        )),
    }
}
