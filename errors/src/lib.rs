//! The error vocabulary of Sluice: every code a caller can receive — from the edge, an API's
//! plugin or the management API — with its HTTP status and what it means. Codes are stable;
//! `docs/errors.md` is generated from [`ErrorCode::catalogue`] and a test keeps it in step.
//!
//! Some codes name what they are about after a dot (`InvalidParameter.age`,
//! `MissingParameter.id`): the kind is the enum, the name is carried beside it.

use http::StatusCode;

/// Whether a code carries a name after a dot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// Always bare: `Timeout`.
    Bare,
    /// Usually named, bare when nothing more precise is known: `InvalidParameter[.name]`.
    Optional,
    /// Always named: `MissingParameter.name`.
    Required,
}

macro_rules! catalogue {
    ($( $variant:ident = $text:literal, $status:literal, $naming:ident, $meaning:literal; )*) => {
        /// One code of the catalogue. [`ErrorCode::ALL`] lists them by status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $( #[doc = $meaning] $variant, )*
        }

        impl ErrorCode {
            /// Every code, ordered by status and then as declared.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as callers see it, without a name: `InvalidParameter`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text,)* }
            }

            /// The HTTP status the code is answered with.
            pub fn status(self) -> StatusCode {
                let code: u16 = match self { $(ErrorCode::$variant => $status,)* };
                // Every status in the table is a valid one (checked by a test).
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }

            /// Whether the code carries a name after a dot.
            pub const fn naming(self) -> Naming {
                match self { $(ErrorCode::$variant => Naming::$naming,)* }
            }

            /// One line saying when a caller gets the code.
            pub const fn meaning(self) -> &'static str {
                match self { $(ErrorCode::$variant => $meaning,)* }
            }
        }
    };
}

catalogue! {
    InvalidRequest = "InvalidRequest", 400, Bare,
        "The request cannot be read as HTTP: a malformed request line or header, or an unsupported version.";
    InvalidRequestBody = "InvalidRequest.Body", 400, Bare,
        "The request body could not be read, in time or at all, or is not the JSON object the API takes.";
    InvalidRequestFraming = "InvalidRequest.Framing", 400, Bare,
        "The request has both `Content-Length` and `Transfer-Encoding`; send one.";
    InvalidParameter = "InvalidParameter", 400, Optional,
        "A parameter or field (named after the dot) has a value of the wrong type or one that is not acceptable; the message says what is expected.";
    MissingParameter = "MissingParameter", 400, Required,
        "A required parameter or field (named after the dot) was not sent.";
    InvalidDefinition = "InvalidDefinition", 400, Bare,
        "An API definition cannot be saved or published as written; the message says what to change.";
    InvalidFunction = "InvalidFunction", 400, Bare,
        "A workflow function cannot be saved as written: its source does not compile in the sandbox or defines no `handler(event, context)`; the message says what to change, with the line.";
    Unauthorized = "Unauthorized", 401, Bare,
        "The management API needs a valid, unexpired token as `Authorization: Bearer <token>`.";
    UnauthorizedMissingCredentials = "Unauthorized.MissingCredentials", 401, Bare,
        "The API needs an app: send `X-Sluice-App-Key` with an app token or a signature.";
    UnauthorizedInvalidCredentials = "Unauthorized.InvalidCredentials", 401, Bare,
        "The app key and token or signature were not accepted.";
    UnauthorizedStaleTimestamp = "Unauthorized.StaleTimestamp", 401, Bare,
        "`X-Sluice-Timestamp` is not within the signature window of the server's clock.";
    UnauthorizedReplayedNonce = "Unauthorized.ReplayedNonce", 401, Bare,
        "`X-Sluice-Nonce` was already used by this app; send a new random nonce with every call.";
    Forbidden = "Forbidden", 403, Bare,
        "The caller's role does not allow this management operation.";
    ForbiddenQuery = "Forbidden.Query", 403, Bare,
        "A native query reaches outside what the API allows (a table, a function or a statement kind).";
    ForbiddenField = "Forbidden.Field", 403, Bare,
        "A native query uses a column above the caller's clearance other than by selecting it.";
    ForbiddenParameter = "Forbidden.Parameter", 403, Required,
        "A parameter (named after the dot) needs a clearance the caller does not have.";
    ForbiddenSecurityLevel = "Forbidden.SecurityLevel", 403, Bare,
        "The API's security level is above the calling app's clearance.";
    ForbiddenNoGrant = "Forbidden.NoGrant", 403, Bare,
        "The calling app has no unexpired grant for this API.";
    ForbiddenIpNotAllowed = "Forbidden.IpNotAllowed", 403, Bare,
        "The call comes from an address outside the app's IP allow list.";
    NotFound = "NotFound", 404, Bare,
        "The management object the request names does not exist (or is not visible to the caller).";
    NotFoundApi = "NotFound.Api", 404, Bare,
        "No API is published at this method and path in the environment the call selects.";
    NotFoundTable = "NotFound.Table", 404, Bare,
        "The datasource's connection sees no table or view of the name the request gives (names are exact, unqualified, case included).";
    MethodNotAllowed = "MethodNotAllowed", 405, Bare,
        "The path is served but not for this method; `Allow` lists the methods that are.";
    NotAcceptable = "NotAcceptable", 406, Bare,
        "The `Accept` header names no format the API answers in; the message lists the media types it offers.";
    Conflict = "Conflict", 409, Bare,
        "The change conflicts with the current state (a name taken, an object in use, a version not in the right state).";
    ConflictPath = "Conflict.Path", 409, Bare,
        "The API's path would take or shadow requests of another published API.";
    PayloadTooLarge = "PayloadTooLarge", 413, Bare,
        "The request body is larger than the limit.";
    ThrottlingUser = "Throttling.User", 429, Bare,
        "The calling app's share of the API's rate is used up; retry after `Retry-After` seconds.";
    ThrottlingApi = "Throttling.Api", 429, Bare,
        "The API's rate limit is reached; retry after `Retry-After` seconds.";
    ThrottlingSystem = "Throttling.System", 429, Bare,
        "The platform's rate limit for the environment is reached (all APIs together); retry after `Retry-After` seconds, or ask the operator to raise `[limits] system_qps_prod`/`system_qps_test`.";
    InvalidRequestHeadTooLarge = "InvalidRequest.HeadTooLarge", 431, Bare,
        "The request head has too many bytes or header lines.";
    InternalError = "InternalError", 500, Bare,
        "An unexpected failure in Sluice; the cause is logged, never sent.";
    InternalErrorDatabase = "InternalError.Database", 500, Bare,
        "The API's database could not answer; the cause is logged, never sent.";
    WorkflowNoBranch = "Workflow.NoBranch", 500, Bare,
        "A workflow's switch node (named in the message) has no condition that holds for this call and no default branch.";
    WorkflowExpression = "Workflow.Expression", 500, Bare,
        "A workflow's condition could not be evaluated on this call's values (a type mismatch or a division by zero); the message names the node.";
    WorkflowFunctionError = "Workflow.FunctionError", 500, Bare,
        "A workflow's function raised or returned something that is not JSON; the message names the node and gives the error.";
    UpstreamUnavailable = "Upstream.Unavailable", 502, Bare,
        "The registered API's upstream service could not be reached or answered badly.";
    WorkflowNodeFailed = "Workflow.NodeFailed", 502, Required,
        "A workflow's node (named after the dot) failed; the message gives the inner error's code and message.";
    UpstreamForbidden = "Upstream.Forbidden", 502, Bare,
        "The upstream's address is refused by the platform's network policy.";
    UnavailableDatasource = "Unavailable.Datasource", 503, Bare,
        "The API's datasource is refused by the platform's access policy; its owners can see why.";
    ServiceUnavailableSignatures = "ServiceUnavailable.Signatures", 503, Bare,
        "Too many signed calls to check for replays right now; retry shortly or use an app token.";
    Timeout = "Timeout", 504, Bare,
        "The API's query did not finish within its timeout and was cancelled.";
    UpstreamTimeout = "Upstream.Timeout", 504, Bare,
        "The registered API's upstream did not answer within the API's timeout.";
    WorkflowFunctionTimeout = "Workflow.FunctionTimeout", 504, Bare,
        "A workflow's function did not finish within its time limit; the message names the node.";
    WorkflowDeadline = "Workflow.Deadline", 504, Bare,
        "The workflow did not finish within its deadline and was cancelled.";
    WorkflowDepthExceeded = "Workflow.DepthExceeded", 508, Bare,
        "Workflows call each other deeper than the limit; the chain may loop.";
}

impl ErrorCode {
    /// The code with `name` after a dot when the code is named and a name is given.
    pub fn with_name(self, name: Option<&str>) -> String {
        match (self.naming(), name) {
            (Naming::Bare, _) | (_, None) => self.as_str().to_owned(),
            (_, Some(name)) => format!("{}.{name}", self.as_str()),
        }
    }

    /// How the code is written in documents: `MissingParameter.<name>`.
    pub fn pattern(self) -> String {
        match self.naming() {
            Naming::Bare => self.as_str().to_owned(),
            Naming::Optional => format!("{}[.<name>]", self.as_str()),
            Naming::Required => format!("{}.<name>", self.as_str()),
        }
    }

    /// Reads a code as callers receive it: its kind and the name after it, if any. The most
    /// specific kind wins (`Forbidden.Query` is not `Forbidden` named `Query`).
    pub fn parse(code: &str) -> Option<(ErrorCode, Option<&str>)> {
        if let Some(kind) = ErrorCode::ALL.iter().find(|c| c.as_str() == code) {
            return Some((*kind, None));
        }
        ErrorCode::ALL
            .iter()
            .filter(|c| c.naming() != Naming::Bare)
            .filter_map(|c| {
                let name = code.strip_prefix(c.as_str())?.strip_prefix('.')?;
                (!name.is_empty()).then_some((*c, Some(name)))
            })
            .max_by_key(|(c, _)| c.as_str().len())
    }

    /// The catalogue as Markdown: `docs/errors.md`.
    pub fn catalogue() -> String {
        let mut text = String::from(
            "# Error codes\n\n\
             Every error Sluice answers — from the edge, an API or the management API — is the JSON envelope\n\
             `{\"requestId\", \"success\": false, \"code\", \"message\", \"data\": null}` with one of these codes\n\
             and its HTTP status. Codes are stable; messages may change. `<name>` is the parameter or field at\n\
             fault. Each API's OpenAPI document lists the codes its operations can return.\n\n\
             Generated from `errors/src/lib.rs` (`SLUICE_BLESS=1 cargo test -p sluice-errors` rewrites it).\n\n\
             | Code | Status | Meaning |\n|---|---|---|\n",
        );
        for code in ErrorCode::ALL {
            text.push_str(&format!("| `{}` | {} | {} |\n", code.pattern(), code.status().as_u16(), code.meaning()));
        }
        text
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_an_error_status_and_texts_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let status = code.status();
            assert!(status.is_client_error() || status.is_server_error(), "{code}: {status}");
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert!(!code.meaning().is_empty() && code.meaning().ends_with('.'), "{code}: {}", code.meaning());
        }
    }

    #[test]
    fn the_catalogue_is_declared_by_status() {
        let statuses: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.status().as_u16()).collect();
        assert!(statuses.is_sorted(), "{statuses:?}");
    }

    #[test]
    fn statuses_come_from_the_table_not_the_fallback() {
        assert_eq!(ErrorCode::Timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(ErrorCode::InvalidRequestHeadTooLarge.status().as_u16(), 431);
        assert_eq!(ErrorCode::ThrottlingApi.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(ErrorCode::InternalError.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn names_follow_the_codes_naming() {
        assert_eq!(ErrorCode::MissingParameter.with_name(Some("id")), "MissingParameter.id");
        assert_eq!(ErrorCode::InvalidParameter.with_name(None), "InvalidParameter");
        assert_eq!(ErrorCode::Timeout.with_name(Some("ignored")), "Timeout");
        assert_eq!(ErrorCode::ForbiddenParameter.pattern(), "Forbidden.Parameter.<name>");
        assert_eq!(ErrorCode::InvalidParameter.pattern(), "InvalidParameter[.<name>]");
    }

    #[test]
    fn parse_reads_back_every_code_and_prefers_the_most_specific_kind() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some((*code, None)));
            if code.naming() != Naming::Bare {
                let text = code.with_name(Some("x.y"));
                assert_eq!(ErrorCode::parse(&text), Some((*code, Some("x.y"))));
            }
        }
        assert_eq!(ErrorCode::parse("Forbidden.Parameter.ssn"), Some((ErrorCode::ForbiddenParameter, Some("ssn"))));
        assert_eq!(ErrorCode::parse("Timeout.5"), None);
        assert_eq!(ErrorCode::parse("MissingParameter."), None);
        assert_eq!(ErrorCode::parse("Nonsense"), None);
    }

    /// `docs/errors.md` is the catalogue; `SLUICE_BLESS=1` rewrites it after a change here.
    #[test]
    fn docs_errors_md_lists_every_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/errors.md");
        let expected = ErrorCode::catalogue();
        if std::env::var_os("SLUICE_BLESS").is_some() {
            std::fs::write(&path, &expected).expect("write docs/errors.md");
        }
        let written = std::fs::read_to_string(&path).expect("docs/errors.md exists");
        assert!(written == expected, "docs/errors.md is out of date: run `SLUICE_BLESS=1 cargo test -p sluice-errors`");
        for code in ErrorCode::ALL {
            assert!(written.contains(&format!("`{}`", code.pattern())), "{code} missing");
        }
    }
}
