//! Between *choose version* and *invoke*: the answer format a caller's `Accept` asks for,
//! against what the version answers (`plugins::format::negotiate`, `docs/formats.md`). Data
//! and workflow APIs are negotiated; a registered API's answer is its upstream's.

use catalog::model::ResultFormat;
use http::header;
use plugins::format::{Choice, Media, OFFERED, negotiate};
use plugins::{ApiError, ApiPlugin, ErrorCode};

use super::CallHead;

/// The caller's choice for `plugin`; `None` when the edge does not negotiate its answers,
/// `Some(Err)` when the caller takes none of the types offered (406).
pub(super) fn choose(head: &CallHead<'_>, plugin: &dyn ApiPlugin) -> Option<Result<(Choice, ResultFormat), ApiError>> {
    let configured = plugin.answer_format()?;
    Some(match negotiate(head.headers.all(header::ACCEPT.as_str()), configured) {
        Ok(choice) => Ok((choice, configured)),
        Err(_) => Err(not_acceptable()),
    })
}

/// The media type errors of a call go out as, from what [`choose`] found: XML for callers
/// whose answer would be XML, JSON otherwise (CSV callers get JSON errors with
/// `X-Sluice-Code`; `Answer::error_in`).
pub(super) fn error_media(chosen: &Option<Result<(Choice, ResultFormat), ApiError>>) -> Media {
    match chosen {
        Some(Ok((choice, configured))) => choice.media(choice.requested.resolve(*configured)),
        _ => Media::Json,
    }
}

pub(super) fn not_acceptable() -> ApiError {
    ApiError::new(
        ErrorCode::NotAcceptable,
        format!("the Accept header names no type this API answers in; it offers {OFFERED}"),
    )
}
