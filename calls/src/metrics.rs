//! The Prometheus metrics of the process, served at `GET /metrics`.
