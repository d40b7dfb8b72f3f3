//! Datasources, folders, workgroup settings and the audit log.

use super::access::Routes;

/// Registers this area's routes.
pub fn register(routes: Routes) -> Routes {
    routes
}
