//! Roaring bitmaps as uoseg reads and writes them: the one home of container
//! internals. Everything else holds `croaring::Bitmap`s and reaches inside them
//! only through this module's small surface.
//!
//! # The model
//!
//! A bitmap of `u32` ids is cut into chunks of 2^16 ids; a chunk's *key* is the
//! ids' high 16 bits and its *container* holds the low 16 bits, as one of:
//!
//! - an **array**: 1..=[`ARRAY_MAX`] strictly increasing `u16` values;
//! - a **bitset**: [`WORDS`] `u64` words (bit `i` of word `w` is value
//!   `64 w + i`) with more than [`ARRAY_MAX`] bits set;
//! - **runs**: one or more sorted, disjoint, non-adjacent inclusive ranges.
//!
//! Keys are strictly increasing and no container is empty. A writer chooses
//! runs only when they are strictly smaller than the array or bitset would be
//! (the rule of CRoaring's `run_optimize`), so the bytes come out canonical.
//!
//! # The portable format
//!
//! <https://github.com/RoaringBitmap/RoaringFormatSpec>, shared by CRoaring,
//! pyroaring, Java, Go, Doris and ClickHouse: a cookie (12346 with a container
//! count, or 12347 with the count folded in and a run flag per container), per
//! container its key and cardinality - 1, the payload offsets (always without
//! runs, from 4 containers on with them), then the payloads, all little
//! endian. [`Writer`] is the only writer of it and [`parse`] the strict reader
//! (CRoaring's own `serialize`/`deserialize` serve bitmaps that already exist).
//!
//! # The modules
//!
//! - [`container`]: one chunk's container, owned ([`Container`]) or borrowed
//!   ([`ContainerRef`]);
//! - [`words`]: the chunk kernel, combining containers into a 1024-word buffer
//!   one chunk at a time (the fused query executor and the numeric index);
//! - [`chunks`]: a whole bitmap as owned containers with running counts
//!   ([`Chunks`]), the numeric index's slices;
//! - [`portable`]: the writer and the strict parser of the portable format;
//! - [`view`]: read access to the containers inside a `croaring::Bitmap`.

pub mod chunks;
pub mod container;
pub mod portable;
pub mod view;
pub mod words;

pub use chunks::{key_segments, Chunks};
pub use container::{Container, ContainerRef};
pub use portable::{parse, Writer};
pub use view::RoaringView;
pub use words::{Words, WORDS};

/// Ids in one chunk.
pub const CHUNK_IDS: usize = 1 << 16;
/// The most values an array container holds; more make a bitset.
pub const ARRAY_MAX: usize = 4096;
/// Bytes of a bitset container's payload.
pub const BITSET_BYTES: usize = 8 * WORDS;

/// Bytes a bitmap holds in memory: its containers plus a key and pointer each.
pub fn heap_bytes(bitmap: &croaring::Bitmap) -> usize {
    let stats = bitmap.statistics();
    (stats.n_bytes_array_containers + stats.n_bytes_bitset_containers + stats.n_bytes_run_containers) as usize
        + stats.n_containers as usize * 16
}
