//! Arrow columns into store updates: every change a user makes with a column
//! of user ids (from long or wide tables, tags, categorical and numeric
//! attributes, plain users) is assembled here, so that the Python bindings, a
//! command line or a distributed worker share one implementation.
//!
//! Each function takes the store it updates and returns a new snapshot (the
//! store itself is immutable). User ids go through the store's id dictionary:
//! new users are registered and join the universe. A failure returns an error
//! and no store, so a failed update leaves the caller's store as it was.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_buffer::ScalarBuffer;
use arrow_schema::DataType;
use croaring::Bitmap;

use crate::build::{bitmap_from_ids, bitmaps_by_group_codes, union_of};
use crate::error::{Error, Result};
use crate::ids::{IdKind, IdMap};
use crate::ingest::{self, encode_for_bitmaps, resolve_user_ids, Unseen};
use crate::numeric::NumericColumn;
use crate::store::{Numeric, Store};

/// Dense ids of a user column; the new dictionary if users were registered.
fn register(store: &Store, users: &[ArrayRef], column: &str) -> Result<(ScalarBuffer<u32>, Option<IdMap>)> {
    let mut ids = Cow::Borrowed(store.ids());
    let dense = resolve_user_ids(users, column, &mut ids, Unseen::Register)?;
    Ok((
        dense,
        match ids {
            Cow::Owned(ids) => Some(ids),
            Cow::Borrowed(_) => None,
        },
    ))
}

fn with_registered(store: &Store, ids: Option<IdMap>) -> Store {
    match ids {
        Some(ids) => store.with_ids(ids),
        None => store.clone(),
    }
}

/// Register a user column and add its users to the universe: the first step of
/// every update that names users.
fn with_known_users(store: &Store, users: &[ArrayRef], column: &str) -> Result<(ScalarBuffer<u32>, Store)> {
    let (dense, registered) = register(store, users, column)?;
    let next = with_registered(store, registered).with_users(&bitmap_from_ids(&dense));
    Ok((dense, next))
}

/// A numeric attribute from (user, value) rows.
fn numeric_attribute(users: &[u32], values: &[ArrayRef], column: &str) -> Result<Numeric> {
    let (logical, values, valid) = ingest::numeric_values(values, column)?;
    let column_of = |e: Error| e.context(&format!("attribute '{column}'"));
    let column = match values {
        ingest::NumericValues::Int(v) => NumericColumn::from_ints(users, &v, valid.as_deref()),
        ingest::NumericValues::Float(v) => NumericColumn::from_floats(users, &v, valid.as_deref()),
    }
    .map_err(column_of)?;
    Ok(Numeric { column, logical })
}

/// New values for some users of an existing numeric attribute.
fn numeric_updated(current: &Numeric, users: &[u32], values: &[ArrayRef], column: &str) -> Result<Numeric> {
    let (logical, values, valid) = ingest::numeric_values(values, column)?;
    if logical != current.logical {
        return Err(Error::type_error(format!(
            "attribute '{column}' holds {} values; got {} values",
            current.logical.name(),
            logical.name()
        )));
    }
    let column_of = |e: Error| e.context(&format!("attribute '{column}'"));
    let column = match values {
        ingest::NumericValues::Int(v) => current.column.updated_ints(users, &v, valid.as_deref()),
        ingest::NumericValues::Float(v) => current.column.updated_floats(users, &v, valid.as_deref()),
    }
    .map_err(column_of)?;
    Ok(Numeric { column, logical })
}

/// One bitmap per distinct value of a string column (value → users).
fn one_bitmap_per_value(users: &[u32], values: &[ArrayRef], column: &str) -> Result<BTreeMap<String, Bitmap>> {
    let encoded = encode_for_bitmaps(values, column)?;
    if encoded.len() != users.len() {
        return Err(Error::invalid(format!(
            "column '{column}' has {} rows but the user column has {}",
            encoded.len(),
            users.len()
        )));
    }
    // Already run-optimised.
    let maps = bitmaps_by_group_codes(users, &encoded);
    Ok(encoded.dictionary.into_iter().zip(maps).collect())
}

/// A store from long (user, tag) rows: one bitmap per distinct tag. Tag names
/// that differ only in Unicode normalisation are one tag.
pub fn from_long(
    users: &[ArrayRef],
    tags: &[ArrayRef],
    user_column: &str,
    tag_column: &str,
    kind: IdKind,
) -> Result<Store> {
    let base = Store::new(kind);
    let (dense, registered) = register(&base, users, user_column)?;
    let encoded = encode_for_bitmaps(tags, tag_column)?;
    if let Some(row) = encoded.first_null() {
        return Err(Error::invalid(format!("column '{tag_column}' has a null tag name at row {row}")));
    }
    if encoded.len() != dense.len() {
        return Err(Error::invalid("the user and tag columns differ in length"));
    }
    // Already run-optimised.
    let maps = bitmaps_by_group_codes(&dense, &encoded);
    let universe = union_of(&maps);
    let tags = crate::names::by_nfc_name(encoded.dictionary.into_iter().zip(maps), |a, b| a.or_inplace(&b))
        .into_iter()
        .map(|(name, users)| (name, Arc::new(users)))
        .collect();
    let ids = registered.unwrap_or_else(|| base.ids().clone());
    Ok(Store::from_parts(universe, ids, tags, BTreeMap::new()))
}

/// A store built from one row per user (see [`with_wide`]).
pub fn from_wide(
    users: &[ArrayRef],
    user_column: &str,
    columns: &[(String, Vec<ArrayRef>)],
    kind: IdKind,
) -> Result<Store> {
    with_wide(&Store::new(kind), users, user_column, columns)
}

/// What one column of a one-row-per-user table becomes.
enum WideColumn {
    Tag(Bitmap),
    Attribute(BTreeMap<String, Bitmap>),
    Numeric(Numeric),
}

/// `store` with every column of a one-row-per-user table: boolean columns set
/// tags to their true rows' users, string and dictionary columns set
/// categorical values, number, date and timestamp columns set numeric ones
/// (other users keep theirs). The users are registered once, and the columns,
/// which are independent, are built at the same time (indexing three
/// attributes of 10 M users one after the other left one core idle through
/// most of it); the first column refused, in column order, is the error, and
/// then nothing is changed.
pub fn with_wide(
    store: &Store,
    users: &[ArrayRef],
    user_column: &str,
    columns: &[(String, Vec<ArrayRef>)],
) -> Result<Store> {
    use rayon::prelude::*;
    let (dense, mut next) = with_known_users(store, users, user_column)?;
    let built: Vec<Result<WideColumn>> =
        columns.par_iter().map(|(name, column)| wide_column(store, &dense, name, column)).collect();
    for ((name, _), column) in columns.iter().zip(built) {
        next = match column? {
            WideColumn::Tag(members) => next.with_tag(name, members)?,
            WideColumn::Attribute(by_value) => next.with_attribute(name, by_value)?,
            WideColumn::Numeric(numeric) => next.with_numeric(name, numeric)?,
        };
    }
    Ok(next)
}

/// One column of [`with_wide`], for the users `dense` (row by row).
fn wide_column(store: &Store, dense: &[u32], name: &str, column: &[ArrayRef]) -> Result<WideColumn> {
    let rows: usize = column.iter().map(|c| c.len()).sum();
    if rows != dense.len() {
        return Err(Error::invalid(format!("column '{name}' has {rows} rows but the user column has {}", dense.len())));
    }
    Ok(match column.first().map(|c| c.data_type().clone()) {
        Some(DataType::Boolean) => {
            let members: Vec<u32> = ingest::true_rows(column, name)?.iter().map(|&r| dense[r]).collect();
            WideColumn::Tag(bitmap_from_ids(&members))
        }
        Some(t) if ingest::is_string_type(&t) => WideColumn::Attribute(one_bitmap_per_value(dense, column, name)?),
        Some(t) if ingest::is_numeric_type(&t) => {
            WideColumn::Numeric(match store.numerics().get(&*crate::names::nfc(name)) {
                Some(current) => numeric_updated(current, dense, column, name)?,
                None => numeric_attribute(dense, column, name)?,
            })
        }
        Some(t) => {
            return Err(Error::type_error(format!(
                "column '{name}' has type {t}; a one-row-per-user table takes boolean columns (tags), string or \
                 dictionary columns (categorical attributes) and number, date or timestamp columns \
                 (numeric attributes)"
            )))
        }
        None => WideColumn::Tag(Bitmap::new()),
    })
}

/// `store` with tag `name` set to exactly these users.
pub fn with_tag(store: &Store, name: &str, users: &[ArrayRef], column: &str) -> Result<Store> {
    let (dense, registered) = register(store, users, column)?;
    with_registered(store, registered).with_tag(name, bitmap_from_ids(&dense))
}

/// `store` with users added to and removed from tag `name`. Adds come first,
/// then removes, for every id kind: the removals are resolved against the
/// dictionary that already holds the added users, so a user in both lists
/// ends up without the tag (and in the universe).
pub fn with_tag_updated(
    store: &Store,
    name: &str,
    add: &[ArrayRef],
    remove: &[ArrayRef],
    column: &str,
) -> Result<Store> {
    let (added, registered) = register(store, add, column)?;
    let after_add = with_registered(store, registered);
    let mut ids = Cow::Borrowed(after_add.ids());
    let removed = resolve_user_ids(remove, column, &mut ids, Unseen::Skip)?;
    after_add.with_tag_updated(name, &bitmap_from_ids(&added), &bitmap_from_ids(&removed))
}

/// `store` with categorical attribute `name` set for these users (one value
/// each); other users keep theirs.
pub fn with_attribute(
    store: &Store,
    name: &str,
    users: &[ArrayRef],
    values: &[ArrayRef],
    column: &str,
) -> Result<Store> {
    let (dense, next) = with_known_users(store, users, column)?;
    let by_value = one_bitmap_per_value(&dense, values, name)?;
    next.with_attribute(name, by_value)
}

/// `store` with numeric attribute `name` set for these users (others keep
/// theirs); nulls and NaN mean no value.
pub fn with_numeric(store: &Store, name: &str, users: &[ArrayRef], values: &[ArrayRef], column: &str) -> Result<Store> {
    let (dense, next) = with_known_users(store, users, column)?;
    if values.iter().map(|c| c.len()).sum::<usize>() != dense.len() {
        return Err(Error::invalid(format!("attribute '{name}': user ids and values differ in length")));
    }
    let numeric = match store.numerics().get(&*crate::names::nfc(name)) {
        Some(current) => numeric_updated(current, &dense, values, name)?,
        None => numeric_attribute(&dense, values, name)?,
    };
    next.with_numeric(name, numeric)
}

/// `store` with these users in its universe.
pub fn with_users(store: &Store, users: &[ArrayRef], column: &str) -> Result<Store> {
    Ok(with_known_users(store, users, column)?.1)
}

/// The users of a column as a bitmap of the store's dense ids; an id the
/// store does not know is refused, naming it.
pub fn audience_of(store: &Store, users: &[ArrayRef], column: &str) -> Result<Bitmap> {
    let mut ids = Cow::Borrowed(store.ids());
    let dense = resolve_user_ids(users, column, &mut ids, Unseen::Refuse)?;
    let bitmap = bitmap_from_ids(&dense);
    if let Some(outsider) = bitmap.andnot(&store.universe().users).minimum() {
        return Err(Error::UnknownName {
            kind: "user id",
            name: store.ids().describe(outsider),
            suggestions: vec![],
            context: String::new(),
        });
    }
    Ok(bitmap)
}

/// The columns of an event log handed to [`with_events`], by name.
pub struct EventColumns<'a> {
    pub user: &'a str,
    pub ts: &'a str,
    pub event: &'a str,
    pub value: Option<&'a str>,
}

/// `store` with an event log's rows added (see `events`): days are calendar
/// days in the store's time zone, event names are NFC-normalised, a null user,
/// time or event is refused naming its row, and new users join the universe.
pub fn with_events(
    store: &Store,
    users: &[ArrayRef],
    ts: &[ArrayRef],
    events: &[ArrayRef],
    values: Option<&[ArrayRef]>,
    columns: EventColumns<'_>,
) -> Result<Store> {
    let rows: usize = users.iter().map(|c| c.len()).sum();
    let lengths = [("ts", ts), ("event", events)].into_iter().chain(values.map(|v| ("value", v)));
    for (what, chunks) in lengths {
        let n: usize = chunks.iter().map(|c| c.len()).sum();
        if n != rows {
            return Err(Error::invalid(format!("the {what} column has {n} rows and the user column {rows}")));
        }
    }
    let log = store.events();
    if let (Some(name), Some(old)) = (columns.value, log.value_name.as_deref()) {
        if name != old {
            return Err(Error::invalid(format!(
                "this store's event values are in column {old:?}; pass value={old:?} (not {name:?}) or rename the column"
            )));
        }
    }
    let days = crate::events::build::local_days(ts, columns.ts, log.zone)?;
    let encoded = ingest::encode_strings(events, columns.event)?;
    if let Some(row) = encoded.first_null() {
        return Err(Error::invalid(format!(
            "column '{}' is null at row {row}: every event needs a name",
            columns.event
        )));
    }
    let values = match (values, columns.value) {
        (Some(chunks), Some(name)) => Some(crate::events::build::event_values(chunks, name)?),
        _ => None,
    };
    let names: Vec<String> = encoded.dictionary.iter().map(|n| crate::names::nfc(n).into_owned()).collect();
    if let Some(empty) = names.iter().position(|n| n.is_empty()) {
        let row = encoded.codes.iter().position(|&c| c as usize == empty).unwrap_or(0);
        return Err(Error::invalid(format!("column '{}' has an empty event name at row {row}", columns.event)));
    }
    let (dense, next) = with_known_users(store, users, columns.user)?;
    let batch = crate::events::build::batch_days(&dense, &encoded.codes, names.len(), &days, values.as_deref())?;
    let log = log.with_batch(batch, &names, columns.value.filter(|_| values.is_some()));
    Ok(next.with_events(log))
}

/// `store` in another time zone; only a store without events may change it.
pub fn with_zone(store: &Store, zone: &str) -> Result<Store> {
    let zone = crate::events::Zone::named(zone)?;
    if !store.events().is_empty() && store.zone() != zone {
        return Err(Error::invalid(format!(
            "this store's events are on days in {}; its time zone cannot change",
            store.zone().name()
        )));
    }
    let mut log = (**store.events()).clone();
    log.zone = zone;
    Ok(store.with_events(log))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray, UInt32Array};

    fn strings(values: &[&str]) -> Vec<ArrayRef> {
        vec![Arc::new(StringArray::from(values.to_vec())) as ArrayRef]
    }

    #[test]
    fn long_rows_become_one_tag_per_nfc_name() {
        let users: Vec<ArrayRef> = vec![Arc::new(UInt32Array::from(vec![1, 2, 2]))];
        let store = from_long(&users, &strings(&["cafe\u{301}", "caf\u{e9}", "vip"]), "u", "t", IdKind::Auto)
            .expect("valid rows");
        assert_eq!(store.tag_names().cloned().collect::<Vec<_>>(), vec!["caf\u{e9}", "vip"]);
        assert_eq!(store.tag("cafe\u{301}").expect("merged").to_vec(), vec![1, 2]);
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn an_update_adds_then_removes_for_dictionary_ids() {
        let store = with_tag(&Store::new(IdKind::String), "t", &strings(&["a", "b"]), "u").expect("tag");
        let next = with_tag_updated(&store, "t", &strings(&["x"]), &strings(&["x", "a"]), "u").expect("update");
        assert_eq!(next.tag("t").expect("tag").cardinality(), 1);
        assert_eq!(next.len(), 3, "x joined the universe");
        assert_eq!(store.tag("t").expect("unchanged").cardinality(), 2, "the old snapshot never changes");
    }

    #[test]
    fn unknown_users_and_mismatched_columns_are_refused() {
        let store =
            with_users(&Store::new(IdKind::Int64), &[Arc::new(Int64Array::from(vec![10, 20])) as ArrayRef], "u")
                .expect("users");
        let err = audience_of(&store, &[Arc::new(Int64Array::from(vec![10, 30])) as ArrayRef], "u").unwrap_err();
        assert!(matches!(err, Error::UnknownName { .. }), "{err}");
        let err = with_attribute(
            &store,
            "city",
            &[Arc::new(Int64Array::from(vec![10])) as ArrayRef],
            &strings(&["SH", "BJ"]),
            "u",
        )
        .unwrap_err();
        assert!(err.to_string().contains("rows but the user column has"), "{err}");
    }
}
