//! The responses of an operation: the OK envelope, and the errors the edge answers with their
//! stable codes from the one catalogue (`errors`, [`ErrorCode`]).
//!
//! Errors that read the same for many operations (404, 413, 429, 500, 502, 504, native 403)
//! are written once under `components/responses` and referred to ([`Shared`]); only the 400
//! response, which lists each operation's own parameters, stays in the operation. A workgroup
//! of thousands of APIs would otherwise repeat them thousands of times.

use std::collections::BTreeMap;

use errors::ErrorCode;
use serde_json::{Value, json};
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::Parameter;
use utoipa::openapi::{Content, Header, Ref, RefOr, Response, ResponseBuilder, Responses};

/// Component names shared by every document.
pub const ENVELOPE: &str = "Envelope";
pub const ERROR: &str = "Error";
pub const REQUEST_ID_HEADER: &str = "X-Request-Id";

/// The JSON media type every answer of Sluice itself uses.
pub const JSON: &str = "application/json";

/// The extension on every error response listing the codes it can carry, for SDK generators:
/// `"x-sluice-error-codes": ["MissingParameter.id", "InvalidParameter.id"]`.
pub const ERROR_CODES_EXTENSION: &str = "x-sluice-error-codes";

/// One error code a caller may get: when, and a message like the edge's.
pub struct Code {
    pub kind: ErrorCode,
    /// The parameter or field a named code is about.
    pub name: Option<String>,
    pub when: String,
    pub message: String,
}

impl Code {
    pub fn of(kind: ErrorCode, when: impl Into<String>, message: impl Into<String>) -> Code {
        Code { kind, name: None, when: when.into(), message: message.into() }
    }

    pub fn named(kind: ErrorCode, name: &str, when: impl Into<String>, message: impl Into<String>) -> Code {
        Code { name: Some(name.to_owned()), ..Code::of(kind, when, message) }
    }

    /// The code as callers see it.
    pub fn code(&self) -> String {
        self.kind.with_name(self.name.as_deref())
    }
}

/// The components a document's operations refer to, gathered while the operations are built
/// and written once under `components`: a name is built on its first use only.
#[derive(Default)]
pub struct Shared {
    pub responses: BTreeMap<String, RefOr<Response>>,
    pub parameters: BTreeMap<String, RefOr<Parameter>>,
    pub headers: BTreeMap<String, RefOr<Header>>,
}

impl Shared {
    /// A reference to the response component `name`, built by `make` on first use.
    pub fn response(&mut self, name: &str, make: impl FnOnce() -> Response) -> RefOr<Response> {
        if !self.responses.contains_key(name) {
            self.responses.insert(name.to_owned(), RefOr::T(make()));
        }
        RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
    }

    /// A reference to the parameter component `name`, built by `make` on first use.
    pub fn parameter(&mut self, name: &str, make: impl FnOnce() -> Parameter) -> RefOr<Parameter> {
        if !self.parameters.contains_key(name) {
            self.parameters.insert(name.to_owned(), RefOr::T(make()));
        }
        RefOr::Ref(Ref::new(format!("#/components/parameters/{name}")))
    }

    /// A reference to the header component `name`, built by `make` on first use.
    pub fn header(&mut self, name: &str, make: impl FnOnce() -> Header) -> Ref {
        if !self.headers.contains_key(name) {
            self.headers.insert(name.to_owned(), RefOr::T(make()));
        }
        Ref::new(format!("#/components/headers/{name}"))
    }
}

pub fn schema_ref(name: &str) -> Ref {
    Ref::new(format!("#/components/schemas/{name}"))
}

pub fn request_id_ref() -> Ref {
    Ref::new(format!("#/components/headers/{REQUEST_ID_HEADER}"))
}

/// An error response: the error envelope, its codes listed in the description and in
/// [`ERROR_CODES_EXTENSION`], and an example of the first code of each kind
/// (`MissingParameter`, `InvalidParameter`, …), so that an API with many parameters stays
/// readable.
pub fn error_response(summary: &str, codes: &[Code]) -> Response {
    let mut description = format!("{summary} The body is the error envelope; `code` is one of:\n");
    let mut listed: Vec<String> = Vec::new();
    for code in codes {
        let text = code.code();
        description.push_str(&format!("\n- `{text}`: {}", code.when));
        if !listed.contains(&text) {
            listed.push(text);
        }
    }
    let mut content = Content::new(Some(RefOr::Ref(schema_ref(ERROR))));
    let mut families: Vec<&str> = Vec::new();
    for code in codes {
        let family = code.kind.as_str().split('.').next().unwrap_or_default();
        if families.contains(&family) {
            continue;
        }
        families.push(family);
        let text = code.code();
        let value = json!({"code": text, "message": code.message, "requestId": "0192f3c4a1b27d3e8f00a1b2c3d4e5f6"});
        content.examples.insert(text, RefOr::T(ExampleBuilder::new().value(Some(value)).build()));
    }
    ResponseBuilder::new()
        .description(description)
        .header_ref(REQUEST_ID_HEADER, request_id_ref())
        .content(JSON, content)
        .extensions(Some(ExtensionsBuilder::new().add(ERROR_CODES_EXTENSION, listed).build()))
        .build()
}

/// A successful response with `media_type` content of `schema`.
pub fn ok_response(description: String, media_type: &str, schema: RefOr<utoipa::openapi::Schema>) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .header_ref(REQUEST_ID_HEADER, request_id_ref())
        .content(media_type, Content::new(Some(schema)))
}

/// Adds an example body to the first content of a response.
pub fn with_example(mut response: Response, example: Value) -> Response {
    if let Some((_, RefOr::T(content))) = response.content.first_mut() {
        content.example = Some(example);
    }
    response
}

/// Adds `value` as the example `name` of the in-place response `status` (its first content),
/// keeping an example already there beside it (a content has `example` or `examples`, not
/// both). A response that is a reference, or absent, is left alone: shared responses stay the
/// same for every operation.
pub fn add_example(responses: &mut Responses, status: &str, name: &str, summary: &str, value: &Value) {
    let Some(RefOr::T(response)) = responses.responses.get_mut(status) else { return };
    let Some((_, RefOr::T(content))) = response.content.first_mut() else { return };
    if let Some(example) = content.example.take() {
        content.examples.insert("example".to_owned(), RefOr::T(ExampleBuilder::new().value(Some(example)).build()));
    }
    let example = ExampleBuilder::new().summary(summary).value(Some(value.clone())).build();
    content.examples.insert(name.to_owned(), RefOr::T(example));
}

/// The 404 of every operation (its example names a sample route).
pub fn not_found() -> Response {
    error_response(
        "No version of this API is served here.",
        &[Code::of(
            ErrorCode::NotFoundApi,
            "no version of this API is published at this method and path in the environment the call selects \
             (`X-Sluice-Env`, production when absent)",
            "no API is published at GET /orders/{id} in the test environment",
        )],
    )
}

pub fn not_acceptable() -> Response {
    error_response(
        "The caller's `Accept` names no type the API answers in.",
        &[Code::of(
            ErrorCode::NotAcceptable,
            "`Accept` names none of application/json, application/xml, text/xml and text/csv (or gives each a \
             weight of 0); for a workflow, also text/csv asked of an answer that is not an array of flat objects",
            "the Accept header names no type this API answers in; it offers application/json, application/xml \
             (or text/xml) and text/csv",
        )],
    )
}

/// The media types a data or workflow API answers besides JSON, chosen by `Accept`.
pub const XML: &str = "application/xml";
pub const TEXT_XML: &str = "text/xml";
pub const CSV: &str = "text/csv";

/// Adds, after the JSON content, the XML and CSV contents a data or workflow API answers by
/// `Accept` (`docs/formats.md`), and says in the description which one a caller without
/// `Accept` gets. `csv` says what the CSV holds.
pub fn with_formats(mut response: Response, default: &str, csv: &str) -> Response {
    let text = |description: &str| {
        let mut schema = utoipa::openapi::Object::with_type(utoipa::openapi::Type::String);
        schema.description = Some(description.to_owned());
        RefOr::T(Content::new(Some(RefOr::T(utoipa::openapi::Schema::from(schema)))))
    };
    let xml = "An XML document: `<response>` with `<success>`, `<code>`, `<requestId>` and `<data>`; each value \
               is an element named after its field (`<field name=\"…\">` when the name is no XML name), NULL as \
               `xsi:nil=\"true\"` (docs/formats.md).";
    response.content.insert(XML.to_owned(), text(xml));
    response.content.insert(TEXT_XML.to_owned(), text(xml));
    response.content.insert(CSV.to_owned(), text(csv));
    response.description.push_str(&format!(
        " By `Accept`: application/json, application/xml (or text/xml) or text/csv; without it (or with `*/*`), \
         {default}."
    ));
    response
}

pub fn payload_too_large(limit: &str) -> Response {
    error_response(
        "The request body is too large.",
        &[Code::of(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {limit}; refused before it is read when `Content-Length` says so"),
            "the request body is larger than the limit of 1048576 bytes",
        )],
    )
}

pub fn throttled() -> Response {
    error_response(
        "Too many calls (reserved: answered once throttling is enforced).",
        &[
            Code::of(
                ErrorCode::ThrottlingApi,
                "the API's call rate limit is reached",
                "the API's call rate limit is reached",
            ),
            Code::of(
                ErrorCode::ThrottlingUser,
                "the calling app's rate limit is reached",
                "the calling app's rate limit is reached",
            ),
        ],
    )
}
