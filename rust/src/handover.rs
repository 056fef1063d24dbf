//! An audience handed to a warehouse as a bitmap of the users' own ids, and a
//! warehouse bitmap read back as an audience of a store.
//!
//! `exchange` knows the bytes; this module knows which numbers go into them.
//! A bitmap holds dense ids, which are the users' own ids only in a uint32
//! store: for int64 and uint64 stores the own ids are looked up in the id
//! dictionary on the way out and back on the way in, so a Doris or ClickHouse
//! table joins on the ids it already has. String ids have no bitmap form: asking
//! for one is a `Type` error, never a silent export of dense ids.
//!
//! Reading back refuses any id the store does not know (an `UnknownName` error
//! naming the first one, as `audience_of` does): an audience is always a set of
//! the store's users.

use croaring::Bitmap;

use crate::build::bitmap_from_ids;
use crate::error::{Error, Result};
use crate::exchange;
use crate::ids::{Externals, IdMap};
use crate::store::Universe;

/// The warehouse whose bytes to write or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warehouse {
    /// Doris / StarRocks `BITMAP` values.
    Doris,
    /// ClickHouse `AggregateFunction(groupBitmap, UInt32)` states.
    ClickHouse,
}

impl Warehouse {
    fn name(self) -> &'static str {
        match self {
            Warehouse::Doris => "a Doris/StarRocks BITMAP",
            Warehouse::ClickHouse => "a ClickHouse groupBitmap state",
        }
    }
}

/// The bytes of `warehouse` holding the own ids of the users in `dense`
/// (dense ids of the id space `ids`).
pub fn encode(dense: &Bitmap, ids: &IdMap, warehouse: Warehouse) -> Result<Vec<u8>> {
    let own = match ids.externals() {
        Externals::Dense => return Ok(encode_bitmap(dense, warehouse)),
        Externals::Strings(_) => {
            return Err(Error::type_error(format!(
                "{} holds integer user ids and this store's ids are strings; export the audience with \
                 TagStore.export, or give the store integer ids",
                warehouse.name()
            )))
        }
        Externals::Integers(_) => ids.sorted_integers(&dense.to_vec()),
    };
    match warehouse {
        Warehouse::Doris => Ok(exchange::doris_encode(&own)),
        Warehouse::ClickHouse => {
            if let Some(&wide) = own.last().filter(|&&max| max > u64::from(u32::MAX)) {
                return Err(Error::invalid(format!(
                    "user id {wide} does not fit ClickHouse's groupBitmap of UInt32; ClickHouse's UInt64 \
                     bitmaps are another format (the Doris/StarRocks BITMAP holds 64-bit ids)"
                )));
            }
            let low: Vec<u32> = own.iter().map(|&v| v as u32).collect();
            Ok(exchange::clickhouse_encode(&Bitmap::of(&low)))
        }
    }
}

fn encode_bitmap(own: &Bitmap, warehouse: Warehouse) -> Vec<u8> {
    match warehouse {
        Warehouse::Doris => exchange::doris_encode_bitmap(own),
        Warehouse::ClickHouse => exchange::clickhouse_encode(own),
    }
}

/// The store's users (dense ids) whose own ids `bytes` of `warehouse` hold.
pub fn decode(bytes: &[u8], universe: &Universe, warehouse: Warehouse) -> Result<Bitmap> {
    let ids = &universe.ids;
    let dense = match (ids.externals(), warehouse) {
        (Externals::Strings(_), _) => {
            return Err(Error::type_error(format!(
                "{} holds integer user ids and this store's ids are strings",
                warehouse.name()
            )))
        }
        (Externals::Dense, Warehouse::ClickHouse) => exchange::clickhouse_decode(bytes)?,
        (Externals::Dense, Warehouse::Doris) => {
            let own = exchange::doris_decode(bytes)?;
            if let Some(&wide) = own.iter().find(|&&v| v > u64::from(u32::MAX)) {
                return Err(unknown(wide.to_string()));
            }
            Bitmap::of(&own.iter().map(|&v| v as u32).collect::<Vec<_>>())
        }
        (Externals::Integers(_), warehouse) => {
            let own: Vec<u64> = match warehouse {
                Warehouse::Doris => exchange::doris_decode(bytes)?,
                Warehouse::ClickHouse => exchange::clickhouse_decode(bytes)?.iter().map(u64::from).collect(),
            };
            let mut dense = Vec::with_capacity(own.len());
            for value in own {
                dense.push(ids.lookup_integer(value).ok_or_else(|| unknown(value.to_string()))?);
            }
            bitmap_from_ids(&dense)
        }
    };
    if let Some(outsider) = dense.andnot(&universe.users).minimum() {
        return Err(unknown(ids.describe(outsider)));
    }
    Ok(dense)
}

fn unknown(id: String) -> Error {
    Error::UnknownName { kind: "user id", name: id, suggestions: vec![], context: String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn integer_universe(own: &[u64]) -> Universe {
        let mut ids = IdMap::new(crate::ids::IdKind::UInt64);
        let dense: Vec<u32> = own.iter().map(|&v| ids.integer(v, true).unwrap().unwrap()).collect();
        Universe { users: Arc::new(Bitmap::of(&dense)), ids: Arc::new(ids) }
    }

    #[test]
    fn own_ids_go_out_and_come_back_as_dense_ids() {
        // Registered out of order, so dense and own order differ.
        let own = [9_000_000_000u64, 7, 1 << 40, 42, 5];
        let universe = integer_universe(&own);
        let audience = Bitmap::of(&[0, 1, 3]); // own ids 9e9, 7, 42
        let bytes = encode(&audience, &universe.ids, Warehouse::Doris).unwrap();
        assert_eq!(exchange::doris_decode(&bytes).unwrap(), vec![7, 42, 9_000_000_000]);
        assert_eq!(decode(&bytes, &universe, Warehouse::Doris).unwrap(), audience);

        let small = Bitmap::of(&[1, 3, 4]); // own ids 7, 42, 5
        let bytes = encode(&small, &universe.ids, Warehouse::ClickHouse).unwrap();
        assert_eq!(exchange::clickhouse_decode(&bytes).unwrap(), Bitmap::of(&[5, 7, 42]));
        assert_eq!(decode(&bytes, &universe, Warehouse::ClickHouse).unwrap(), small);
    }

    #[test]
    fn ids_the_store_does_not_know_and_wide_ids_are_refused() {
        let universe = integer_universe(&[1, 2, 3]);
        let foreign = exchange::doris_encode(&[2, 99]);
        let err = decode(&foreign, &universe, Warehouse::Doris).unwrap_err();
        assert!(matches!(&err, Error::UnknownName { name, .. } if name == "99"), "{err}");

        let wide = integer_universe(&[1 << 33]);
        let err = encode(&Bitmap::of(&[0]), &wide.ids, Warehouse::ClickHouse).unwrap_err();
        assert!(err.to_string().contains("8589934592"), "{err}");

        let dense =
            Universe { users: Arc::new(Bitmap::of(&[1, 2])), ids: Arc::new(IdMap::new(crate::ids::IdKind::UInt32)) };
        let err = decode(&exchange::doris_encode(&[1, 1 << 35]), &dense, Warehouse::Doris).unwrap_err();
        assert!(matches!(&err, Error::UnknownName { name, .. } if name == "34359738368"), "{err}");
        let err =
            decode(&exchange::clickhouse_encode(&Bitmap::of(&[1, 3])), &dense, Warehouse::ClickHouse).unwrap_err();
        assert!(matches!(&err, Error::UnknownName { name, .. } if name == "3"), "{err}");
    }

    #[test]
    fn string_ids_have_no_bitmap_form() {
        let mut ids = IdMap::new(crate::ids::IdKind::String);
        ids.string("alice", true).unwrap();
        let err = encode(&Bitmap::of(&[0]), &ids, Warehouse::Doris).unwrap_err();
        assert!(matches!(err, Error::Type(_)));
    }
}
