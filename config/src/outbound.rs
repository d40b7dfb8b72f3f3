//! What the process may reach outside itself: the network policy (registered upstreams and
//! database hosts) and the datasource access policy (SQLite dataset roots, the store kept
//! apart). Both are the configuration's values plus the platform settings platform admins
//! keep in the store, so they are rebuilt with every snapshot ([`Outbound::load`]).

use std::path::PathBuf;

use catalog::model::PlatformSettings;
use catalog::store::{Store, StoreError};
use net::SsrfPolicy;
use plugins::sql::access::{AccessSettings, DatasetRoot, DatasourceAccess};

use crate::Config;

/// The configuration's part of the policies.
#[derive(Debug, Clone)]
pub struct OutboundBase {
    network_allow: Vec<String>,
    dataset_roots: Vec<DatasetRoot>,
    data_dir: PathBuf,
    store_url: String,
}

/// The policies in force.
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    /// Every upstream and database host goes through it.
    pub net: SsrfPolicy,
    pub datasources: DatasourceAccess,
}

impl OutboundBase {
    /// Checks the configuration's entries; the error names the first bad one.
    pub fn from_config(config: &Config) -> Result<OutboundBase, String> {
        SsrfPolicy::new(&config.ssrf_allow)?;
        let dataset_roots = config
            .dataset_roots
            .iter()
            .map(|entry| parse_root(entry).map_err(|why| format!("dataset_roots entry `{entry}`: {why}")))
            .collect::<Result<_, _>>()?;
        Ok(OutboundBase {
            network_allow: config.ssrf_allow.clone(),
            dataset_roots,
            data_dir: config.data_dir.clone(),
            store_url: config.store_url.clone(),
        })
    }

    /// The policies with the store's platform settings and workgroups. Platform settings were
    /// checked when saved; an entry that no longer parses is left out and logged.
    pub async fn load(&self, store: &Store) -> Result<Outbound, StoreError> {
        let settings = store.platform_settings().await?;
        let workgroups: Vec<(i64, String)> =
            store.list_workgroups().await?.into_iter().map(|w| (w.id, w.name)).collect();
        Ok(self.with(&settings, &workgroups).await)
    }

    /// The policies with `settings` added, for `workgroups` (id, name).
    pub async fn with(&self, settings: &PlatformSettings, workgroups: &[(i64, String)]) -> Outbound {
        let mut allow = self.network_allow.clone();
        for entry in &settings.network_allow {
            match SsrfPolicy::new(std::slice::from_ref(entry)) {
                Ok(_) => allow.push(entry.clone()),
                Err(e) => tracing::warn!("platform setting left out: {e}"),
            }
        }
        // Every entry parsed on its own, so the whole list does.
        let net = SsrfPolicy::new(&allow).unwrap_or_default();
        let mut roots = self.dataset_roots.clone();
        roots.extend(
            settings
                .dataset_roots
                .iter()
                .map(|root| DatasetRoot { path: PathBuf::from(&root.path), workgroup: root.workgroup.clone() }),
        );
        let access = AccessSettings {
            net: net.clone(),
            data_dir: self.data_dir.clone(),
            roots,
            store_url: self.store_url.clone(),
        };
        Outbound { datasources: DatasourceAccess::new(&access, workgroups).await, net }
    }
}

/// Checks platform settings before they are saved: every network entry parses, every root is
/// an absolute path, every bound workgroup name could be one. `Err` names the field at fault.
pub fn check_settings(settings: &PlatformSettings) -> Result<(), (String, String)> {
    for (i, entry) in settings.network_allow.iter().enumerate() {
        SsrfPolicy::new(std::slice::from_ref(entry)).map_err(|why| (format!("networkAllow[{i}]"), why))?;
    }
    for (i, root) in settings.dataset_roots.iter().enumerate() {
        let field = format!("datasetRoots[{i}]");
        if !root.path.starts_with('/') || root.path.contains('\0') {
            return Err((format!("{field}.path"), "give an absolute directory path".into()));
        }
        if let Some(name) = &root.workgroup
            && !is_workgroup_name(name)
        {
            return Err((format!("{field}.workgroup"), "a workgroup name: letters, digits, `_` or `-`".into()));
        }
    }
    Ok(())
}

/// `/path` (shared) or `workgroup=/path` (bound).
fn parse_root(entry: &str) -> Result<DatasetRoot, &'static str> {
    let entry = entry.trim();
    let (workgroup, path) = match entry.split_once('=') {
        Some((name, path)) if !entry.starts_with('/') => (Some(name.trim().to_owned()), path.trim()),
        _ => (None, entry),
    };
    if !path.starts_with('/') {
        return Err("give an absolute directory path, or workgroup=/path");
    }
    if workgroup.as_deref().is_some_and(|name| !is_workgroup_name(name)) {
        return Err("the workgroup name may hold only letters, digits, `_` and `-`");
    }
    Ok(DatasetRoot { path: PathBuf::from(path), workgroup })
}

fn is_workgroup_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use catalog::model::DatasetRootSetting;

    use super::*;

    #[test]
    fn roots_are_shared_or_bound_and_always_absolute() {
        assert_eq!(parse_root("/srv/data"), Ok(DatasetRoot { path: "/srv/data".into(), workgroup: None }));
        assert_eq!(
            parse_root(" sales = /srv/sales "),
            Ok(DatasetRoot { path: "/srv/sales".into(), workgroup: Some("sales".into()) })
        );
        assert_eq!(parse_root("/srv/a=b"), Ok(DatasetRoot { path: "/srv/a=b".into(), workgroup: None }));
        for bad in ["relative/dir", "sales=relative", "a b=/srv", "=/srv"] {
            assert!(parse_root(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn platform_settings_name_the_entry_at_fault() {
        let settings = |allow: &[&str], roots: &[(&str, Option<&str>)]| PlatformSettings {
            network_allow: allow.iter().map(|s| s.to_string()).collect(),
            dataset_roots: roots
                .iter()
                .map(|(path, wg)| DatasetRootSetting { path: path.to_string(), workgroup: wg.map(str::to_owned) })
                .collect(),
        };
        assert_eq!(check_settings(&settings(&["10.0.0.0/8", "db.internal"], &[("/srv", Some("sales"))])), Ok(()));
        assert_eq!(check_settings(&settings(&["10.0.0.1/8"], &[])).unwrap_err().0, "networkAllow[0]");
        assert_eq!(check_settings(&settings(&[], &[("/a", None), ("b", None)])).unwrap_err().0, "datasetRoots[1].path");
        assert_eq!(check_settings(&settings(&[], &[("/a", Some("../x"))])).unwrap_err().0, "datasetRoots[0].workgroup");
    }
}
