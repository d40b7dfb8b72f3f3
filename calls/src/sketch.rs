//! The latency sketch of a rollup: a DDSketch (relative error 1%), mergeable across minutes,
//! APIs and nodes, stored as bytes.
