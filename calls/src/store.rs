//! The embedded call store: a SQLite database of its own in the data dir (`calls.db`, never
//! the metadata store), with call details and per-minute rollups, written in batches and
//! pruned by retention.
