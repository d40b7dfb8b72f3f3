//! OpenAPI documents: the management API's own, per API and per workgroup, and the page that renders them.

use super::access::Routes;

/// Registers this area's routes.
pub fn register(routes: Routes) -> Routes {
    routes
}
