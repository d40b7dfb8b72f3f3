//! The ClickHouse sink: the same records and rollups, through ClickHouse's HTTP interface in
//! batched inserts, for several nodes or high volume.
