//! The tag store: an immutable snapshot of tags, categorical attributes, the
//! universe and the id dictionary. Updates return a new snapshot that shares
//! every unchanged bitmap, so an audience or snapshot handed out never changes.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use croaring::Bitmap;

use crate::error::{Error, Result};
use crate::events::{EventLog, Zone};
use crate::ids::{IdKind, IdMap};
use crate::logical::Logical;
use crate::names::{by_nfc_name, nfc};
use crate::numeric::NumericColumn;
use crate::user_codes::UserCodes;

/// What a bitmap is evaluated against: the users a store knows and their ids.
#[derive(Debug, Clone)]
pub struct Universe {
    pub users: Arc<Bitmap>,
    pub ids: Arc<IdMap>,
}

/// A categorical attribute: one bitmap per value. A user holds at most one value;
/// users without a value are null.
#[derive(Debug, Clone, Default)]
pub struct Categorical {
    pub values: BTreeMap<String, Arc<Bitmap>>,
    /// The values as a column (codes in `values` order), made on first use.
    user_codes: OnceLock<Arc<UserCodes>>,
}

impl Categorical {
    pub fn new(values: BTreeMap<String, Arc<Bitmap>>) -> Self {
        Categorical { values, user_codes: OnceLock::new() }
    }

    /// Each user's value as its index in `values`, built on the first call.
    pub fn user_codes(&self) -> &UserCodes {
        self.user_codes.get_or_init(|| {
            let groups: Vec<&Bitmap> = self.values.values().map(|b| b.as_ref()).collect();
            Arc::new(UserCodes::build(&groups))
        })
    }

    /// Bytes of the value bitmaps and, once built, of the column.
    pub fn heap_bytes(&self) -> usize {
        let bitmaps = self.values.values().map(|b| crate::roaring::heap_bytes(b)).sum::<usize>();
        bitmaps + self.user_codes.get().map_or(0, |codes| codes.heap_bytes())
    }

    pub fn non_null(&self) -> Bitmap {
        let all: Vec<&Bitmap> = self.values.values().map(|b| b.as_ref()).collect();
        crate::algebra::union(&all)
    }
}

/// A numeric, date or timestamp attribute with its range index.
#[derive(Clone)]
pub struct Numeric {
    pub column: NumericColumn,
    pub logical: Logical,
}

impl std::fmt::Debug for Numeric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Numeric({}, {} users)", self.logical.name(), self.column.non_null().cardinality())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tag,
    Categorical,
    Numeric,
    Segment,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tag => "tag",
            Kind::Categorical => "categorical",
            Kind::Numeric => "numeric",
            Kind::Segment => "segment",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    universe: Universe,
    tags: BTreeMap<String, Arc<Bitmap>>,
    attributes: BTreeMap<String, Arc<Categorical>>,
    numerics: BTreeMap<String, Arc<Numeric>>,
    /// Saved segments: name → canonical query text.
    segments: BTreeMap<String, String>,
    /// What users did, by calendar day in the store's time zone.
    events: Arc<EventLog>,
    /// Notes the Python package keeps with the store (playbooks, the tag
    /// catalog): key → text, saved and loaded as they are.
    notes: BTreeMap<String, String>,
}

/// One row of `describe()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    pub name: String,
    pub kind: Kind,
    /// Users holding the tag, with a non-null value, or in the segment
    /// (`None` for a segment that could not be counted, e.g. one that needs
    /// an evaluation time; see `query::describe`).
    pub users: Option<u64>,
    /// Distinct values (1 for a tag).
    pub values: usize,
}

impl Store {
    pub fn new(kind: IdKind) -> Self {
        Store {
            universe: Universe { users: Arc::new(Bitmap::new()), ids: Arc::new(IdMap::new(kind)) },
            tags: BTreeMap::new(),
            attributes: BTreeMap::new(),
            numerics: BTreeMap::new(),
            segments: BTreeMap::new(),
            notes: BTreeMap::new(),
            events: Arc::new(EventLog::new(Zone::utc())),
        }
    }

    pub fn from_parts(
        users: Bitmap,
        ids: IdMap,
        tags: BTreeMap<String, Arc<Bitmap>>,
        attributes: BTreeMap<String, Arc<Categorical>>,
    ) -> Self {
        Store {
            universe: Universe { users: Arc::new(users), ids: Arc::new(ids) },
            tags,
            attributes,
            numerics: BTreeMap::new(),
            segments: BTreeMap::new(),
            notes: BTreeMap::new(),
            events: Arc::new(EventLog::new(Zone::utc())),
        }
    }

    /// The same store with these events (and their time zone).
    pub fn with_events(&self, events: EventLog) -> Self {
        let mut next = self.clone();
        next.events = Arc::new(events);
        next
    }

    /// The events and the store's time zone.
    pub fn events(&self) -> &Arc<EventLog> {
        &self.events
    }

    pub fn zone(&self) -> Zone {
        self.events.zone
    }

    /// The same store with numeric attributes and saved segments (used on load).
    pub fn with_extras(mut self, numerics: BTreeMap<String, Arc<Numeric>>, segments: BTreeMap<String, String>) -> Self {
        self.numerics = numerics;
        self.segments = segments;
        self
    }

    /// The notes kept with the store (see the field's docs).
    pub fn notes(&self) -> &BTreeMap<String, String> {
        &self.notes
    }

    /// The same store with note `key` set to `text`, or removed when `None`.
    pub fn with_note(&self, key: &str, text: Option<String>) -> Store {
        let mut next = self.clone();
        match text {
            Some(text) => next.notes.insert(key.to_owned(), text),
            None => next.notes.remove(key),
        };
        next
    }

    pub fn universe(&self) -> &Universe {
        &self.universe
    }

    pub fn ids(&self) -> &IdMap {
        &self.universe.ids
    }

    pub fn len(&self) -> u64 {
        self.universe.users.cardinality()
    }

    pub fn is_empty(&self) -> bool {
        self.universe.users.is_empty()
    }

    pub fn tag_names(&self) -> impl Iterator<Item = &String> {
        self.tags.keys()
    }

    pub fn attribute_names(&self) -> impl Iterator<Item = &String> {
        self.attributes.keys()
    }

    pub fn tags(&self) -> &BTreeMap<String, Arc<Bitmap>> {
        &self.tags
    }

    pub fn attributes(&self) -> &BTreeMap<String, Arc<Categorical>> {
        &self.attributes
    }

    pub fn numerics(&self) -> &BTreeMap<String, Arc<Numeric>> {
        &self.numerics
    }

    pub fn segments(&self) -> &BTreeMap<String, String> {
        &self.segments
    }

    pub fn all_names(&self) -> impl Iterator<Item = &String> {
        self.tags.keys().chain(self.attributes.keys()).chain(self.numerics.keys())
    }

    pub fn numeric(&self, name: &str) -> Result<&Arc<Numeric>> {
        let name = &*nfc(name);
        self.numerics.get(name).ok_or_else(|| Error::unknown("numeric attribute", name, self.all_names()))
    }

    pub fn segment(&self, name: &str) -> Result<&String> {
        let name = &*nfc(name);
        self.segments.get(name).ok_or_else(|| Error::unknown("segment", name, self.segments.keys()))
    }

    pub fn tag(&self, name: &str) -> Result<&Arc<Bitmap>> {
        let name = &*nfc(name);
        self.tags.get(name).ok_or_else(|| Error::unknown("tag", name, self.all_names()))
    }

    pub fn attribute(&self, name: &str) -> Result<&Arc<Categorical>> {
        let name = &*nfc(name);
        self.attributes.get(name).ok_or_else(|| Error::unknown("attribute", name, self.all_names()))
    }

    /// Users whose attribute `name` equals `value`. A value nobody holds is an
    /// empty audience, not an error: values come and go with the data.
    pub fn attribute_value(&self, name: &str, value: &str) -> Result<Arc<Bitmap>> {
        let attribute = self.attribute(name)?;
        Ok(attribute.values.get(&*nfc(value)).cloned().unwrap_or_else(|| Arc::new(Bitmap::new())))
    }

    pub fn attribute_in(&self, name: &str, values: &[String]) -> Result<Bitmap> {
        let attribute = self.attribute(name)?;
        let maps: Vec<&Bitmap> =
            values.iter().filter_map(|v| attribute.values.get(&*nfc(v))).map(|b| b.as_ref()).collect();
        Ok(crate::algebra::union(&maps))
    }

    pub fn describe(&self) -> Vec<Description> {
        let tags = self.tags.iter().map(|(name, bitmap)| Description {
            name: name.clone(),
            kind: Kind::Tag,
            users: Some(bitmap.cardinality()),
            values: 1,
        });
        let attributes = self.attributes.iter().map(|(name, attribute)| Description {
            name: name.clone(),
            kind: Kind::Categorical,
            users: Some(attribute.values.values().map(|b| b.cardinality()).sum()),
            values: attribute.values.len(),
        });
        let numerics = self.numerics.iter().map(|(name, numeric)| Description {
            name: name.clone(),
            kind: Kind::Numeric,
            users: Some(numeric.column.non_null().cardinality()),
            values: 0,
        });
        let segments = self.segments.keys().map(|name| Description {
            name: name.clone(),
            kind: Kind::Segment,
            users: None,
            values: 0,
        });
        tags.chain(attributes).chain(numerics).chain(segments).collect()
    }

    /// Bytes held by the bitmaps and the id dictionary (an estimate for the latter).
    pub fn memory_usage(&self) -> usize {
        self.memory_breakdown().iter().map(|(_, bytes)| bytes).sum()
    }

    /// [`Store::memory_usage`] by part: tags, attributes (categorical), numerics
    /// (range indexes), events, and users (the universe and the id dictionary).
    pub fn memory_breakdown(&self) -> [(&'static str, usize); 5] {
        let heap = crate::roaring::heap_bytes;
        let tags = self.tags.values().map(|b| heap(b)).sum::<usize>();
        let attributes = self.attributes.values().map(|a| a.heap_bytes()).sum::<usize>();
        let numerics = self.numerics.values().map(|n| n.column.memory_usage()).sum::<usize>();
        let users = heap(&self.universe.users) + self.universe.ids.len() * 32;
        [
            ("tags", tags),
            ("attributes", attributes),
            ("numerics", numerics),
            ("events", self.events.memory_usage()),
            ("users", users),
        ]
    }

    // ---- copy-on-write updates ----

    fn check_new_name(&self, name: &str, kind: Kind) -> Result<()> {
        if name.is_empty() {
            return Err(Error::invalid("a tag or attribute name must not be empty"));
        }
        let clash = if kind != Kind::Tag && self.tags.contains_key(name) {
            Some("a tag")
        } else if kind != Kind::Categorical && self.attributes.contains_key(name) {
            Some("a categorical attribute")
        } else if kind != Kind::Numeric && self.numerics.contains_key(name) {
            Some("a numeric attribute")
        } else {
            None
        };
        match clash {
            Some(what) => Err(Error::invalid(format!("'{name}' is already {what} of this store"))),
            None => Ok(()),
        }
    }

    /// A store with the id dictionary replaced (after registering new users).
    pub fn with_ids(&self, ids: IdMap) -> Store {
        let mut next = self.clone();
        next.universe.ids = Arc::new(ids);
        next
    }

    pub fn with_users(&self, users: &Bitmap) -> Store {
        let mut next = self.clone();
        if !users.is_subset(&next.universe.users) {
            next.universe.users = Arc::new(next.universe.users.or(users));
        }
        next
    }

    /// Add or replace a tag; its users join the universe.
    pub fn with_tag(&self, name: &str, users: Bitmap) -> Result<Store> {
        let name = &*nfc(name);
        self.check_new_name(name, Kind::Tag)?;
        let mut next = self.with_users(&users);
        next.tags.insert(name.to_string(), Arc::new(users));
        Ok(next)
    }

    /// Add `add` to an existing tag and remove `remove` from it.
    pub fn with_tag_updated(&self, name: &str, add: &Bitmap, remove: &Bitmap) -> Result<Store> {
        let name = &*nfc(name);
        let current = self.tag(name)?;
        let mut updated = current.or(add);
        updated.andnot_inplace(remove);
        updated.run_optimize();
        let mut next = self.with_users(add);
        next.tags.insert(name.to_string(), Arc::new(updated));
        Ok(next)
    }

    pub fn without_tag(&self, name: &str) -> Result<Store> {
        let name = &*nfc(name);
        self.tag(name)?;
        let mut next = self.clone();
        next.tags.remove(name);
        Ok(next)
    }

    pub fn without_attribute(&self, name: &str) -> Result<Store> {
        let name = &*nfc(name);
        let mut next = self.clone();
        if next.numerics.remove(name).is_none() {
            self.attribute(name)?;
            next.attributes.remove(name);
        }
        Ok(next)
    }

    /// The categorical attribute `name` set to exactly `values` (disjoint):
    /// users it held before and `values` does not are left without a value.
    pub fn with_attribute_replaced(&self, name: &str, values: BTreeMap<String, Bitmap>) -> Result<Store> {
        let name = &*nfc(name);
        self.check_new_name(name, Kind::Categorical)?;
        let mut cleared = self.clone();
        cleared.attributes.remove(name);
        cleared.with_attribute(name, values)
    }

    /// Add or replace a numeric attribute; its users join the universe.
    pub fn with_numeric(&self, name: &str, numeric: Numeric) -> Result<Store> {
        let name = &*nfc(name);
        self.check_new_name(name, Kind::Numeric)?;
        let mut next = self.with_users(numeric.column.non_null());
        next.numerics.insert(name.to_string(), Arc::new(numeric));
        Ok(next)
    }

    /// Add, replace (`text = Some`) or drop (`None`) a saved segment. The caller
    /// validates the text and checks for cycles (see `query::segments`).
    pub fn with_segment(&self, name: &str, text: Option<String>) -> Store {
        let name = &*nfc(name);
        let mut next = self.clone();
        match text {
            Some(text) => next.segments.insert(name.to_string(), text),
            None => next.segments.remove(name),
        };
        next
    }

    /// Set a categorical attribute for the users in `values` (value → users):
    /// those users take the new value, everyone else keeps theirs. A user listed
    /// under two values is an error; users join the universe.
    pub fn with_attribute(&self, name: &str, values: BTreeMap<String, Bitmap>) -> Result<Store> {
        let name = &*nfc(name);
        self.check_new_name(name, Kind::Categorical)?;
        let values = if values.keys().all(|v| matches!(nfc(v), std::borrow::Cow::Borrowed(_))) {
            values
        } else {
            // Values that differ only in normalisation are one value.
            by_nfc_name(values, |a, b| a.or_inplace(&b))
        };
        let mut updated = Bitmap::new();
        for (value, users) in &values {
            // The intersection is only built to name the user in the error.
            if let Some(user) = updated.intersect(users).then(|| updated.and(users).minimum()).flatten() {
                return Err(Error::invalid(format!(
                    "attribute '{name}': user {} is given two values (one of them '{value}')",
                    self.universe.ids.describe(user)
                )));
            }
            updated.or_inplace(users);
        }
        let mut merged: BTreeMap<String, Arc<Bitmap>> = BTreeMap::new();
        if let Some(existing) = self.attributes.get(name) {
            for (value, users) in &existing.values {
                let kept = if users.intersect(&updated) { Arc::new(users.andnot(&updated)) } else { users.clone() };
                merged.insert(value.clone(), kept);
            }
        }
        for (value, users) in values {
            let entry = merged.entry(value).or_insert_with(|| Arc::new(Bitmap::new()));
            let mut combined = entry.or(&users);
            combined.run_optimize();
            *entry = Arc::new(combined);
        }
        merged.retain(|_, users| !users.is_empty());
        let mut next = self.with_users(&updated);
        next.attributes.insert(name.to_string(), Arc::new(Categorical::new(merged)));
        Ok(next)
    }
}
