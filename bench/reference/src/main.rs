//! The reference service: `GET /users/{id}` answers one row of `users` as JSON, read with a
//! prepared statement over a pool of PostgreSQL connections. It is the smallest honest way to
//! write this endpoint in Rust, and the yardstick for Sluice's point lookup (scenario D1).
//!
//! Environment: `REFERENCE_ADDR` (default 127.0.0.1:8380), `REFERENCE_PG` (a tokio-postgres
//! connection string, default `host=127.0.0.1 user=postgres dbname=sluice_bench`),
//! `REFERENCE_POOL` (connections, default two per core).
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

const LOOKUP: &str = "SELECT id, name, age, city FROM users WHERE id = $1";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn user(State(pool): State<Pool>, Path(id): Path<i32>) -> Response {
    let client = match pool.get().await {
        Ok(client) => client,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    // Prepared once per connection, then reused from the connection's statement cache.
    let row = match client.prepare_cached(LOOKUP).await {
        Ok(statement) => client.query_opt(&statement, &[&id]).await,
        Err(e) => Err(e),
    };
    match row {
        Ok(Some(row)) => {
            let body = serde_json::json!({"code": "OK", "data": {"rows": [{
                "id": row.get::<_, i32>(0),
                "name": row.get::<_, Option<&str>>(1),
                "age": row.get::<_, Option<i32>>(2),
                "city": row.get::<_, Option<&str>>(3),
            }]}});
            ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
        Ok(None) => (StatusCode::NOT_FOUND, r#"{"code":"NotFound"}"#).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[tokio::main]
async fn main() {
    let addr = env_or("REFERENCE_ADDR", "127.0.0.1:8380");
    let pg: tokio_postgres::Config = env_or("REFERENCE_PG", "host=127.0.0.1 user=postgres dbname=sluice_bench")
        .parse()
        .expect("REFERENCE_PG is not a connection string");
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let size: usize = env_or("REFERENCE_POOL", &(2 * cores).to_string()).parse().expect("REFERENCE_POOL");
    let manager = Manager::from_config(pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(manager).max_size(size).build().expect("pool");
    // Open every connection (and prepare the statement on it) before taking load.
    let mut warm = Vec::with_capacity(size);
    for _ in 0..size {
        let client = pool.get().await.expect("cannot connect to PostgreSQL");
        client.prepare_cached(LOOKUP).await.expect("cannot prepare the lookup");
        warm.push(client); // held, so that the next get opens another connection
    }
    drop(warm);
    let app = Router::new().route("/users/{id}", get(user)).with_state(pool);
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("cannot bind REFERENCE_ADDR");
    eprintln!("reference listening on {addr} with {size} connections");
    axum::serve(listener, app).await.expect("server");
}
