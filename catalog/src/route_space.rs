//! The route space: which published paths may stand side by side in one environment.
//!
//! Every workgroup's APIs share one edge, so one path space. Two routes conflict when
//! - they belong to different workgroups and some request path matches both, whatever their
//!   methods (`/b/customers/{aaa}` and `/b/customers/{id}`, or `/b/customers/{id}` and
//!   `/b/customers/special`): the path space is split between workgroups, so one team can
//!   neither take nor shadow another's calls;
//! - they take the same method and every request matching one matches the other (the same
//!   path, or the same route under other parameter names);
//! - at the first segment where they part, both are parameters with different names
//!   (`/x/{id}/a` and `/x/{name}/b`): the edge's router keeps one name per position.
//!
//! Within a workgroup a literal segment may stand beside a parameter (`/orders/search` and
//! `/orders/{id}`): the literal wins for its own path, and the workgroup owns both.
//! [`Store::publish`](crate::store::Store::publish) and the API writes check this in the same
//! transaction as the write; the edge checks it again when it builds its table.

/// One segment of an API path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    /// `{name}`
    Param(&'a str),
}

fn segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('/').skip(1).map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Some(name) => Segment::Param(name),
        None => Segment::Literal(s),
    })
}

/// A published (or to be published) route: whose it is, its method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteClaim<'a> {
    pub workgroup_id: i64,
    /// Upper case; HEAD is served by GET routes and never stored.
    pub method: &'a str,
    pub path: &'a str,
}

/// Why two routes may not both be served, when they may not.
pub fn conflict(a: &RouteClaim<'_>, b: &RouteClaim<'_>) -> Option<&'static str> {
    if a.path == b.path && a.method == b.method {
        return Some("the same method and path");
    }
    if parameter_names_clash(a.path, b.path) {
        return Some("a path parameter under another name at the same place");
    }
    if a.workgroup_id != b.workgroup_id && overlap(a.path, b.path) {
        return Some("a path that matches the same requests");
    }
    if a.method == b.method && same_requests(a.path, b.path) {
        return Some("the same route under other parameter names");
    }
    None
}

/// Whether some request path matches both patterns.
fn overlap(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (segments(a), segments(b));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(Segment::Literal(x)), Some(Segment::Literal(y))) if x != y => return false,
            (Some(_), Some(_)) => {}
            _ => return false,
        }
    }
}

/// Whether every request path matching one pattern matches the other.
fn same_requests(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (segments(a), segments(b));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(Segment::Literal(x)), Some(Segment::Literal(y))) if x == y => {}
            (Some(Segment::Param(_)), Some(Segment::Param(_))) => {}
            _ => return false,
        }
    }
}

/// Whether, where the two paths first part, both hold parameters of different names.
fn parameter_names_clash(a: &str, b: &str) -> bool {
    for (x, y) in segments(a).zip(segments(b)) {
        match (x, y) {
            (Segment::Param(x), Segment::Param(y)) if x != y => return true,
            _ if x == y => {}
            _ => return false,
        }
    }
    false
}

/// Every pair of `claims` (by index, lower first) that [`conflict`]s, with why. Candidates are
/// found through a trie of path segments, so a table of thousands of routes is not compared
/// pair by pair; pairs whose parameter names clash where they part without sharing a request
/// are not found here (the router refuses the second of them).
pub fn conflicting_pairs(claims: &[RouteClaim<'_>]) -> Vec<(usize, usize, &'static str)> {
    #[derive(Default)]
    struct Node<'a> {
        literals: std::collections::HashMap<&'a str, Node<'a>>,
        param: Option<Box<Node<'a>>>,
        ends: Vec<usize>,
    }
    fn insert<'a>(node: &mut Node<'a>, mut path: impl Iterator<Item = Segment<'a>>, index: usize) {
        match path.next() {
            None => node.ends.push(index),
            Some(Segment::Literal(l)) => insert(node.literals.entry(l).or_default(), path, index),
            Some(Segment::Param(_)) => insert(node.param.get_or_insert_with(Box::default), path, index),
        }
    }
    fn overlapping(node: &Node<'_>, path: &[Segment<'_>], found: &mut Vec<usize>) {
        let Some((first, rest)) = path.split_first() else {
            found.extend_from_slice(&node.ends);
            return;
        };
        match first {
            Segment::Literal(l) => {
                if let Some(child) = node.literals.get(l) {
                    overlapping(child, rest, found);
                }
            }
            Segment::Param(_) => node.literals.values().for_each(|child| overlapping(child, rest, found)),
        }
        if let Some(param) = &node.param {
            overlapping(param, rest, found);
        }
    }
    let mut root = Node::default();
    for (i, claim) in claims.iter().enumerate() {
        insert(&mut root, segments(claim.path), i);
    }
    let mut pairs = Vec::new();
    let mut found = Vec::new();
    for (i, claim) in claims.iter().enumerate() {
        let path: Vec<Segment<'_>> = segments(claim.path).collect();
        found.clear();
        overlapping(&root, &path, &mut found);
        for &j in found.iter().filter(|&&j| j > i) {
            if let Some(why) = conflict(claim, &claims[j]) {
                pairs.push((i, j, why));
            }
        }
    }
    pairs.sort_unstable();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(workgroup_id: i64, method: &'static str, path: &'static str) -> RouteClaim<'static> {
        RouteClaim { workgroup_id, method, path }
    }

    #[test]
    fn other_workgroups_never_share_a_request_path() {
        let theirs = claim(1, "GET", "/b/customers/{id}");
        for (method, path) in [
            ("GET", "/b/customers/{aaa}"),
            ("POST", "/b/customers/{id}"),
            ("GET", "/b/customers/special"),
            ("DELETE", "/b/customers/7"),
            ("GET", "/b/{kind}/{id}"),
        ] {
            assert!(conflict(&claim(2, method, path), &theirs).is_some(), "{method} {path}");
            assert!(conflict(&theirs, &claim(2, method, path)).is_some(), "{method} {path}, the other way");
        }
        for (method, path) in
            [("GET", "/b/customers"), ("GET", "/b/customers/{id}/orders"), ("GET", "/c/customers/{id}")]
        {
            assert_eq!(conflict(&claim(2, method, path), &theirs), None, "{method} {path}");
        }
    }

    #[test]
    fn the_trie_finds_the_pairs_that_pairwise_checks_find() {
        let paths = ["/a/{x}", "/{y}/b", "/a/b", "/c", "/{z}", "/a/{x}/d", "/a/c/d", "/", "/c/{k}"];
        let mut claims = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            for method in ["GET", "POST"] {
                claims.push(claim(i as i64 % 3, method, path));
            }
        }
        let mut pairwise = Vec::new();
        for i in 0..claims.len() {
            for j in i + 1..claims.len() {
                if let Some(why) = conflict(&claims[i], &claims[j]).filter(|_| overlap(claims[i].path, claims[j].path))
                {
                    pairwise.push((i, j, why));
                }
            }
        }
        assert!(!pairwise.is_empty());
        assert_eq!(conflicting_pairs(&claims), pairwise);
    }

    #[test]
    fn within_a_workgroup_literals_may_stand_beside_parameters() {
        let by_id = claim(1, "GET", "/orders/{id}");
        assert_eq!(conflict(&claim(1, "GET", "/orders/search"), &by_id), None);
        assert_eq!(conflict(&claim(1, "POST", "/orders/{id}"), &by_id), None);
        assert!(conflict(&claim(1, "GET", "/orders/{id}"), &by_id).is_some());
        assert!(conflict(&claim(1, "GET", "/orders/{key}"), &by_id).is_some());
        // The router holds one name per position, whatever the methods.
        assert!(conflict(&claim(1, "POST", "/orders/{key}"), &by_id).is_some());
        assert!(conflict(&claim(1, "POST", "/orders/{key}/lines"), &claim(1, "GET", "/orders/{id}/x")).is_some());
        assert_eq!(conflict(&claim(1, "POST", "/orders/{id}/lines"), &claim(1, "GET", "/orders/{id}/x")), None);
    }
}

/// A published API an edge leaves out of its routes, with why (a path another API took,
/// a version that no longer compiles); platform admins read these to repair the catalog.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unserved {
    pub api_id: i64,
    pub workgroup_id: i64,
    pub environment: crate::model::Environment,
    pub why: String,
}
