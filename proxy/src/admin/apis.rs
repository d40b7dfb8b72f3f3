//! APIs, their versions, publishing and the test console.

use super::access::Routes;

/// Registers this area's routes.
pub fn register(routes: Routes) -> Routes {
    routes
}
