// Users, tokens, workgroups and members (`admin/src/people.rs` and `mod.rs`).

pub fn people() -> Vec<Row> {
    vec![
        Row { method: "GET", path: "/health", expect: Expect::Anyone, prepare: |_| ("/health".to_owned(), None) },
        Row { method: "GET", path: "/me", expect: Expect::AnyUser, prepare: |_| ("/me".to_owned(), None) },
        // Platform settings (`admin/src/platform.rs`): what every workgroup's outbound
        // connections may reach is the platform's, not a workgroup's.
        Row {
            method: "GET",
            path: "/platform/settings",
            expect: Expect::PlatformAdmin,
            prepare: |_| ("/platform/settings".to_owned(), None),
        },
        Row {
            method: "PUT",
            path: "/platform/settings",
            expect: Expect::PlatformAdmin,
            prepare: |_| ("/platform/settings".to_owned(), Some(json!({"networkAllow": [], "datasetRoots": []}))),
        },
        Row {
            method: "GET",
            path: "/platform/unserved",
            expect: Expect::PlatformAdmin,
            prepare: |_| ("/platform/unserved".to_owned(), None),
        },
        Row { method: "GET", path: "/users", expect: Expect::PlatformAdmin, prepare: |_| ("/users".to_owned(), None) },
        Row {
            method: "POST",
            path: "/users",
            expect: Expect::PlatformAdmin,
            prepare: |c| ("/users".to_owned(), Some(json!({"name": format!("u{}", c.seq)}))),
        },
        Row { method: "GET", path: "/users/{user}/tokens", expect: Expect::PlatformAdmin, prepare: |_| ("/users/target/tokens".to_owned(), None) },
        Row {
            method: "POST",
            path: "/users/{user}/tokens",
            expect: Expect::PlatformAdmin,
            prepare: |_| ("/users/target/tokens".to_owned(), Some(json!({"name": "matrix"}))),
        },
        Row {
            method: "DELETE",
            path: "/tokens/{id}",
            expect: Expect::PlatformAdmin,
            prepare: |c| {
                let token = c.setup("POST", "/users/target/tokens", Some(json!({"name": "victim"})));
                (format!("/tokens/{}", token["id"]), None)
            },
        },
        Row { method: "GET", path: "/workgroups", expect: Expect::AnyUser, prepare: |_| ("/workgroups".to_owned(), None) },
        Row {
            method: "POST",
            path: "/workgroups",
            expect: Expect::PlatformAdmin,
            prepare: |c| ("/workgroups".to_owned(), Some(json!({"name": format!("w{}", c.seq)}))),
        },
        Row { method: "GET", path: "/workgroups/{workgroup}", expect: Expect::WorkgroupViewer, prepare: |_| (format!("/workgroups/{TEAM}"), None) },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/members",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/members"), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/members/{user}",
            expect: Expect::WorkgroupAdmin,
            prepare: |_| (format!("/workgroups/{TEAM}/members/target"), Some(json!({"role": "viewer"}))),
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/members/{user}",
            expect: Expect::WorkgroupAdmin,
            prepare: |c| {
                c.setup("PUT", &format!("/workgroups/{TEAM}/members/target"), Some(json!({"role": "viewer"})));
                (format!("/workgroups/{TEAM}/members/target"), None)
            },
        },
    ]
}
