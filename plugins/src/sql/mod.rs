//! The SQL plugin: wizard, script and native data APIs over SQLite, PostgreSQL and MySQL.
//!
//! One pipeline serves every mode:
//! **parse** ([`value`]) → **plan** (built once per version) → **render** ([`render`]) →
//! **execute** ([`execute`]) → **encode** ([`encode`]).

pub mod dialect;
pub mod native;
pub mod render;
pub mod script;
pub mod value;
