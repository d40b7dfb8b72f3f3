//! Security levels at call time: which request parameters a caller may not use, and which
//! result columns it may not see.
//!
//! Every request parameter and response field carries a level L1–L4. A caller with clearance
//! `c` may not send (or be required to send) a parameter above `c`, and sees the fields above
//! `c` masked (`"******"`) or left out, as the API's `maskMode` says. What is above each level
//! is worked out once per version (`SqlApi::compile`); a call only picks its level's entry, so
//! a caller who is cleared for everything pays nothing.
//!
//! Masking happens while encoding (`encode::encode_data`), from a [`Masking`] that says, for the
//! result's columns, which to hide: by position (wizard, native projection items), by output
//! name (script labels, native `*` expansions), or both.

use catalog::model::MaskMode;

/// What a masked value is replaced with (as a JSON string; NULLs too, so nullness does not leak).
pub const MASK: &str = "******";

/// The masked value as JSON text.
pub(crate) const MASK_JSON: &[u8] = b"\"******\"";

/// Folds a column or output name for comparison: case-insensitively for ASCII, plus the few
/// other letters whose case mapping is an ASCII letter. MySQL and MariaDB compare column names
/// with Unicode case folding, so `Kind` spelled with the KELVIN SIGN (U+212A) names the column
/// `kind`; such spellings must fold to the same name here. Folding more than a database does
/// only ever hides or refuses more.
pub fn fold_name(name: &str) -> String {
    name.chars().map(fold_char).collect()
}

fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    if lower.is_ascii() {
        return lower;
    }
    let upper_lower = c.to_uppercase().next().and_then(|u| u.to_lowercase().next()).unwrap_or(c);
    if upper_lower.is_ascii() { upper_lower } else { lower }
}

/// One item of a native query's top-level projection, for locating its result columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectionItem {
    /// An expression the caller may see.
    Shown,
    /// An expression derived from a restricted column: its column is hidden.
    Hidden,
    /// `*` or `t.*`: an unknown number of columns, hidden by name.
    Wildcard,
}

/// Which result columns a call hides, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masking {
    mode: MaskMode,
    positions: Positions,
    /// Folded output names hidden wherever they appear.
    names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Positions {
    Fixed(Vec<usize>),
    Projection(Vec<ProjectionItem>),
}

impl Masking {
    /// Hides the result columns at `positions` (0-based).
    pub fn by_position(mode: MaskMode, positions: Vec<usize>) -> Masking {
        Masking { mode, positions: Positions::Fixed(positions), names: Vec::new() }
    }

    /// Hides the result columns whose output name matches one of `names` (see [`fold_name`]).
    pub fn by_name<S: AsRef<str>>(mode: MaskMode, names: &[S]) -> Masking {
        let names = names.iter().map(|n| fold_name(n.as_ref())).collect();
        Masking { mode, positions: Positions::Fixed(Vec::new()), names }
    }

    /// Hides the columns of the `Hidden` items of a projection, and any column named in `names`.
    pub fn by_projection<S: AsRef<str>>(mode: MaskMode, items: Vec<ProjectionItem>, names: &[S]) -> Masking {
        let names = names.iter().map(|n| fold_name(n.as_ref())).collect();
        Masking { mode, positions: Positions::Projection(items), names }
    }

    pub fn mode(&self) -> MaskMode {
        self.mode
    }

    /// The projection items, for a native query's masking.
    pub fn projection(&self) -> Option<&[ProjectionItem]> {
        match &self.positions {
            Positions::Projection(items) => Some(items),
            Positions::Fixed(_) => None,
        }
    }

    /// For a result with these column names: whether each column is hidden. Computed once per
    /// result, never per row.
    pub fn hidden_columns(&self, columns: &[&str]) -> Vec<bool> {
        let n = columns.len();
        let mut hidden = vec![false; n];
        match &self.positions {
            Positions::Fixed(positions) => {
                for &p in positions {
                    if let Some(h) = hidden.get_mut(p) {
                        *h = true;
                    }
                }
            }
            Positions::Projection(items) => locate(items, &mut hidden),
        }
        if !self.names.is_empty() {
            for (h, column) in hidden.iter_mut().zip(columns) {
                if !*h && self.names.contains(&fold_name(column)) {
                    *h = true;
                }
            }
        }
        hidden
    }
}

/// Marks the columns of hidden projection items. With one `*` its expansion is whatever the
/// other items do not account for; with several, positions are unknown and the caller relies
/// on names. A column count that does not fit the projection hides everything (fail closed).
fn locate(items: &[ProjectionItem], hidden: &mut [bool]) {
    let wildcards = items.iter().filter(|i| **i == ProjectionItem::Wildcard).count();
    let explicit = items.len() - wildcards;
    let n = hidden.len();
    let fits = match wildcards {
        0 => n == items.len(),
        _ => n >= explicit,
    };
    if !fits {
        hidden.iter_mut().for_each(|h| *h = true);
        return;
    }
    if wildcards > 1 {
        return;
    }
    let expansion = n - explicit;
    let mut column = 0;
    for item in items {
        match item {
            ProjectionItem::Wildcard => column += expansion,
            ProjectionItem::Hidden => {
                hidden[column] = true;
                column += 1;
            }
            ProjectionItem::Shown => column += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProjectionItem::{Hidden, Shown, Wildcard};

    #[test]
    fn names_fold_like_the_most_lenient_database() {
        assert_eq!(fold_name("PHONE"), "phone");
        assert_eq!(fold_name("\u{212A}ind"), "kind");
        assert_eq!(fold_name("\u{17F}tatus"), "status");
        assert_eq!(fold_name("\u{130}d"), "id");
        assert_eq!(fold_name("\u{131}d"), "id");
        assert_eq!(fold_name("Zoë"), "zoë");
    }

    #[test]
    fn positions_and_names_combine() {
        let m = Masking::by_position(MaskMode::Mask, vec![1, 7]);
        assert_eq!(m.hidden_columns(&["a", "b", "c"]), [false, true, false]);
        let m = Masking::by_name(MaskMode::Omit, &["Phone"]);
        assert_eq!(m.hidden_columns(&["id", "PHONE", "phone2"]), [false, true, false]);
    }

    #[test]
    fn one_wildcard_is_located_from_the_column_count() {
        let m = Masking::by_projection(MaskMode::Mask, vec![Hidden, Wildcard, Shown, Hidden], &["phone"]);
        let columns = ["x", "id", "phone", "name", "y", "z"];
        assert_eq!(m.hidden_columns(&columns), [true, false, true, false, false, true]);
        // An empty expansion.
        assert_eq!(m.hidden_columns(&["x", "y", "z"]), [true, false, true]);
    }

    #[test]
    fn several_wildcards_hide_by_name_and_bad_counts_hide_everything() {
        let m = Masking::by_projection(MaskMode::Mask, vec![Wildcard, Hidden, Wildcard], &["phone", "x"]);
        assert_eq!(m.hidden_columns(&["id", "phone", "x", "id"]), [false, true, true, false]);
        let m = Masking::by_projection(MaskMode::Mask, vec![Shown, Hidden], &["phone"]);
        assert_eq!(m.hidden_columns(&["a", "b", "c"]), [true, true, true]);
        let m = Masking::by_projection(MaskMode::Mask, vec![Shown, Shown, Wildcard], &["phone"]);
        assert_eq!(m.hidden_columns(&["a"]), [true]);
    }
}
