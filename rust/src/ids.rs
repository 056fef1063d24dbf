//! The id dictionary: maps a user's own ids (external) to the dense `u32` ids that
//! the bitmaps hold, and back. uint32 ids are used as they are; int64, uint64 and
//! string ids get dense ids in the order they are first registered. Dense ids are
//! only ever appended, so audiences taken before a store grew stay valid.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rayon::slice::ParallelSliceMut;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};

/// How a store's users are identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// uint32 ids used directly as dense ids.
    UInt32,
    /// Non-negative int64 ids through the dictionary.
    Int64,
    /// uint64 ids through the dictionary.
    UInt64,
    /// String ids through the dictionary.
    String,
    /// Not decided yet: the first user id column decides.
    Auto,
}

impl IdKind {
    pub fn name(self) -> &'static str {
        match self {
            IdKind::UInt32 => "uint32",
            IdKind::Int64 => "int64",
            IdKind::UInt64 => "uint64",
            IdKind::String => "string",
            IdKind::Auto => "auto",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "uint32" => Ok(IdKind::UInt32),
            "int64" => Ok(IdKind::Int64),
            "uint64" => Ok(IdKind::UInt64),
            "string" | "str" => Ok(IdKind::String),
            "auto" => Ok(IdKind::Auto),
            other => Err(Error::invalid(format!(
                "unknown id kind {other:?}; expected one of \"auto\", \"uint32\", \"int64\", \"uint64\", \"string\""
            ))),
        }
    }

    fn code(self) -> u8 {
        match self {
            IdKind::UInt32 => 0,
            IdKind::Int64 => 1,
            IdKind::UInt64 => 2,
            IdKind::String => 3,
            IdKind::Auto => 4,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        [IdKind::UInt32, IdKind::Int64, IdKind::UInt64, IdKind::String, IdKind::Auto].get(code as usize).copied()
    }
}

/// The external ids of a dictionary store, indexed by dense id.
#[derive(Debug, Clone)]
enum Dictionary {
    Identity,
    Integers { to_dense: FxHashMap<u64, u32>, external: Vec<u64> },
    Strings { to_dense: FxHashMap<Arc<str>, u32>, external: Vec<Arc<str>> },
}

/// The own ids indexed by dense id ([`IdMap::externals`]).
#[derive(Clone, Copy)]
pub enum Externals<'a> {
    /// A uint32 store: a user's own id is its dense id.
    Dense,
    Integers(&'a [u64]),
    Strings(&'a [Arc<str>]),
}

static NEXT_LINEAGE: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Clone)]
pub struct IdMap {
    kind: IdKind,
    dictionary: Dictionary,
    /// Identifies one growing id space: copies that only appended share it, so
    /// audiences from an older and a newer snapshot can be combined.
    lineage: u64,
}

impl IdMap {
    pub fn new(kind: IdKind) -> Self {
        let dictionary = match kind {
            IdKind::UInt32 | IdKind::Auto => Dictionary::Identity,
            IdKind::Int64 | IdKind::UInt64 => {
                Dictionary::Integers { to_dense: FxHashMap::default(), external: Vec::new() }
            }
            IdKind::String => Dictionary::Strings { to_dense: FxHashMap::default(), external: Vec::new() },
        };
        IdMap { kind, dictionary, lineage: NEXT_LINEAGE.fetch_add(1, Ordering::Relaxed) }
    }

    /// Settle an `Auto` id space on the kind of its first id column.
    pub fn settle(&mut self, kind: IdKind) {
        if self.kind == IdKind::Auto && kind != IdKind::Auto {
            let lineage = self.lineage;
            *self = IdMap::new(kind);
            self.lineage = lineage;
        }
    }

    fn is_identity(&self) -> bool {
        matches!(self.dictionary, Dictionary::Identity)
    }

    pub fn kind(&self) -> IdKind {
        self.kind
    }

    pub fn lineage(&self) -> u64 {
        self.lineage
    }

    /// Number of dictionary entries (0 for uint32 stores, which need none).
    pub fn len(&self) -> usize {
        match &self.dictionary {
            Dictionary::Identity => 0,
            Dictionary::Integers { external, .. } => external.len(),
            Dictionary::Strings { external, .. } => external.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Can an audience of `self` be combined with one of `other`?
    pub fn compatible(&self, other: &IdMap) -> bool {
        (self.is_identity() && other.is_identity()) || self.lineage == other.lineage
    }

    fn next_dense(len: usize) -> Result<u32> {
        u32::try_from(len).map_err(|_| Error::invalid("the store holds 2^32 users, its maximum"))
    }

    /// Dense id of an integer external id, registering it if `register`.
    pub fn integer(&mut self, value: u64, register: bool) -> Result<Option<u32>> {
        match &mut self.dictionary {
            Dictionary::Identity => Ok(u32::try_from(value).ok()),
            Dictionary::Integers { to_dense, external } => {
                if let Some(&dense) = to_dense.get(&value) {
                    return Ok(Some(dense));
                }
                if !register {
                    return Ok(None);
                }
                let dense = Self::next_dense(external.len())?;
                to_dense.insert(value, dense);
                external.push(value);
                Ok(Some(dense))
            }
            Dictionary::Strings { .. } => Err(Error::type_error("this store's user ids are strings, not integers")),
        }
    }

    /// Dense id of a string external id, registering it if `register`.
    pub fn string(&mut self, value: &str, register: bool) -> Result<Option<u32>> {
        match &mut self.dictionary {
            Dictionary::Strings { to_dense, external } => {
                if let Some(&dense) = to_dense.get(value) {
                    return Ok(Some(dense));
                }
                if !register {
                    return Ok(None);
                }
                let dense = Self::next_dense(external.len())?;
                let key: Arc<str> = Arc::from(value);
                to_dense.insert(key.clone(), dense);
                external.push(key);
                Ok(Some(dense))
            }
            _ => Err(Error::type_error(format!("this store's user ids are {}, not strings", self.kind.name()))),
        }
    }

    /// Look up without registering (never fails for the right kind).
    pub fn lookup_integer(&self, value: u64) -> Option<u32> {
        match &self.dictionary {
            Dictionary::Identity => u32::try_from(value).ok(),
            Dictionary::Integers { to_dense, .. } => to_dense.get(&value).copied(),
            Dictionary::Strings { .. } => None,
        }
    }

    pub fn lookup_string(&self, value: &str) -> Option<u32> {
        match &self.dictionary {
            Dictionary::Strings { to_dense, .. } => to_dense.get(value).copied(),
            _ => None,
        }
    }

    /// External integer ids of dense ids (uint32 stores: the same numbers).
    /// The own ids of every dense id, borrowed, for loops over many users.
    pub fn externals(&self) -> Externals<'_> {
        match &self.dictionary {
            Dictionary::Identity => Externals::Dense,
            Dictionary::Integers { external, .. } => Externals::Integers(external),
            Dictionary::Strings { external, .. } => Externals::Strings(external),
        }
    }

    pub fn external_integers(&self, dense: &[u32]) -> Vec<u64> {
        match &self.dictionary {
            Dictionary::Integers { external, .. } => {
                dense.iter().map(|&d| external.get(d as usize).copied().unwrap_or(u64::MAX)).collect()
            }
            _ => dense.iter().map(|&d| u64::from(d)).collect(),
        }
    }

    pub fn external_strings(&self, dense: &[u32]) -> Vec<Arc<str>> {
        match &self.dictionary {
            Dictionary::Strings { external, .. } => {
                dense.iter().map(|&d| external.get(d as usize).cloned().unwrap_or_else(|| Arc::from(""))).collect()
            }
            _ => dense.iter().map(|d| Arc::from(d.to_string())).collect(),
        }
    }

    /// Serialized form: kind byte, lineage, count, then entries
    /// (u64 little-endian, or u32 length + UTF-8 bytes).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind.code());
        out.extend_from_slice(&self.lineage.to_le_bytes());
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        match &self.dictionary {
            Dictionary::Identity => {}
            Dictionary::Integers { external, .. } => {
                for value in external {
                    out.extend_from_slice(&value.to_le_bytes());
                }
            }
            Dictionary::Strings { external, .. } => {
                for value in external {
                    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
                    out.extend_from_slice(value.as_bytes());
                }
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut reader = crate::bytes::Reader::new(bytes, "id dictionary");
        let kind = IdKind::from_code(reader.u8()?).ok_or_else(|| Error::format("id dictionary: unknown id kind"))?;
        let lineage = reader.u64()?;
        let count = reader.u64()?;
        let mut map = IdMap::new(kind);
        map.lineage = lineage;
        for _ in 0..count {
            let inserted = match kind {
                IdKind::UInt32 | IdKind::Auto => return Err(Error::format("id dictionary: uint32 store with entries")),
                IdKind::Int64 | IdKind::UInt64 => map.integer(reader.u64()?, true)?,
                IdKind::String => {
                    let len = reader.u32()? as usize;
                    let text = std::str::from_utf8(reader.take(len)?)
                        .map_err(|_| Error::format("id dictionary: a string id is not valid UTF-8"))?;
                    let before = map.len();
                    let dense = map.string(text, true)?;
                    if map.len() == before {
                        return Err(Error::format("id dictionary: duplicate string id"));
                    }
                    dense
                }
            };
            if inserted.is_none() {
                return Err(Error::format("id dictionary: bad entry"));
            }
        }
        if kind != IdKind::String && map.len() as u64 != count {
            return Err(Error::format("id dictionary: duplicate integer id"));
        }
        reader.finish()?;
        Ok(map)
    }
}

impl IdMap {
    /// The users' own integer ids of `dense`, sorted by value (uint32 stores:
    /// the dense ids themselves, already sorted when `dense` is).
    pub fn sorted_integers(&self, dense: &[u32]) -> Vec<u64> {
        let mut values = self.external_integers(dense);
        if !self.is_identity() {
            values.par_sort_unstable();
        }
        values
    }

    /// The users' own string ids of `dense`, sorted by code point (Python's
    /// order for `str`).
    pub fn sorted_strings(&self, dense: &[u32]) -> Vec<Arc<str>> {
        let mut values = self.external_strings(dense);
        values.par_sort_unstable();
        values
    }

    /// The dense id in `other` of the user whose dense id here is `dense`,
    /// matched by the user's own id (`None` if `other` does not know the user
    /// or its ids are of another kind).
    pub fn translate(&self, dense: u32, other: &IdMap) -> Option<u32> {
        match &self.dictionary {
            Dictionary::Identity => match &other.dictionary {
                Dictionary::Strings { .. } => None,
                _ => other.lookup_integer(u64::from(dense)),
            },
            Dictionary::Integers { external, .. } => other.lookup_integer(*external.get(dense as usize)?),
            Dictionary::Strings { external, .. } => other.lookup_string(external.get(dense as usize)?),
        }
    }

    /// A user's own id, for error messages.
    pub fn describe(&self, dense: u32) -> String {
        match self.kind {
            IdKind::String => format!("{:?}", self.external_strings(&[dense])[0]),
            _ => self.external_integers(&[dense])[0].to_string(),
        }
    }
}
