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

/// Routes held for checking many claims against them, one after another, without comparing
/// each claim with every route: a trie of path segments (parameters kept apart by name) that
/// yields the routes a claim may [`conflict`] with, which are then checked by the rule itself.
/// Routes can be added and taken away between checks. `T` is what the holder keeps with each
/// route (its API, its environment).
#[derive(Debug)]
pub struct RouteIndex<T> {
    routes: Vec<Indexed<T>>,
    root: IndexNode,
}

#[derive(Debug)]
struct Indexed<T> {
    workgroup_id: i64,
    method: String,
    path: String,
    value: T,
    live: bool,
}

#[derive(Debug, Default)]
struct IndexNode {
    literals: std::collections::HashMap<String, IndexNode>,
    params: std::collections::HashMap<String, IndexNode>,
    ends: Vec<usize>,
}

impl IndexNode {
    /// Every route ending at or below this node.
    fn all(&self, found: &mut Vec<usize>) {
        found.extend_from_slice(&self.ends);
        self.literals.values().chain(self.params.values()).for_each(|child| child.all(found));
    }

    /// Routes some request path matches along with `path` (see [`overlap`]).
    fn overlapping(&self, path: &[Segment<'_>], found: &mut Vec<usize>) {
        let Some((first, rest)) = path.split_first() else {
            found.extend_from_slice(&self.ends);
            return;
        };
        match first {
            Segment::Literal(l) => {
                if let Some(child) = self.literals.get(*l) {
                    child.overlapping(rest, found);
                }
            }
            Segment::Param(_) => self.literals.values().for_each(|child| child.overlapping(rest, found)),
        }
        self.params.values().for_each(|child| child.overlapping(rest, found));
    }

    /// Routes that hold another parameter name where they part from `path` (see
    /// [`parameter_names_clash`]).
    fn clashing(&self, path: &[Segment<'_>], found: &mut Vec<usize>) {
        let Some((first, rest)) = path.split_first() else { return };
        let next = match first {
            Segment::Literal(l) => self.literals.get(*l),
            Segment::Param(name) => {
                for (other, child) in &self.params {
                    if other != name {
                        child.all(found);
                    }
                }
                self.params.get(*name)
            }
        };
        if let Some(child) = next {
            child.clashing(rest, found);
        }
    }
}

impl<T> Default for RouteIndex<T> {
    fn default() -> Self {
        RouteIndex { routes: Vec::new(), root: IndexNode::default() }
    }
}

impl<T> RouteIndex<T> {
    /// Adds a route.
    pub fn insert(&mut self, claim: RouteClaim<'_>, value: T) {
        let index = self.routes.len();
        let mut node = &mut self.root;
        for segment in segments(claim.path) {
            node = match segment {
                Segment::Literal(l) => node.literals.entry(l.to_owned()).or_default(),
                Segment::Param(name) => node.params.entry(name.to_owned()).or_default(),
            };
        }
        node.ends.push(index);
        self.routes.push(Indexed {
            workgroup_id: claim.workgroup_id,
            method: claim.method.to_owned(),
            path: claim.path.to_owned(),
            value,
            live: true,
        });
    }

    /// Takes away every route whose value `gone` accepts.
    pub fn remove(&mut self, gone: impl Fn(&T) -> bool) {
        for route in &mut self.routes {
            if route.live && gone(&route.value) {
                route.live = false;
            }
        }
    }

    /// The values of routes that [`conflict`] with `claim`, with the route and why, among those
    /// `consider` accepts, in the order they were added.
    pub fn conflicts(
        &self,
        claim: &RouteClaim<'_>,
        consider: impl Fn(&T) -> bool,
    ) -> Vec<(&T, RouteClaim<'_>, &'static str)> {
        let path: Vec<Segment<'_>> = segments(claim.path).collect();
        let mut found = Vec::new();
        self.root.overlapping(&path, &mut found);
        self.root.clashing(&path, &mut found);
        found.sort_unstable();
        found.dedup();
        found
            .into_iter()
            .filter_map(|i| {
                let route = &self.routes[i];
                if !route.live || !consider(&route.value) {
                    return None;
                }
                let theirs = RouteClaim { workgroup_id: route.workgroup_id, method: &route.method, path: &route.path };
                conflict(claim, &theirs).map(|why| (&route.value, theirs, why))
            })
            .collect()
    }
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
    fn the_index_finds_what_pairwise_checks_find() {
        let paths =
            ["/a/{x}", "/{y}/b", "/a/b", "/c", "/{z}", "/a/{x}/d", "/a/c/d", "/", "/c/{k}", "/a/{w}/e", "/a/{x}/{q}"];
        let mut claims = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            for method in ["GET", "POST"] {
                claims.push(claim(i as i64 % 3, method, path));
            }
        }
        let mut index = RouteIndex::default();
        for (i, c) in claims.iter().enumerate() {
            index.insert(*c, i);
        }
        for (i, c) in claims.iter().enumerate() {
            let pairwise: Vec<usize> =
                (0..claims.len()).filter(|&j| j != i && conflict(c, &claims[j]).is_some()).collect();
            let indexed: Vec<usize> = index.conflicts(c, |&j| j != i).into_iter().map(|(j, _, _)| *j).collect();
            assert_eq!(indexed, pairwise, "{c:?}");
        }
        // Taken away: no longer found.
        index.remove(|&j| j == 1);
        assert!(index.conflicts(&claims[0], |&j| j != 0).iter().all(|(j, _, _)| **j != 1));
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
