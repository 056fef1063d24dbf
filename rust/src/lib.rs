//! uoseg: a user-segmentation engine. The core (everything but `py`) is plain
//! Rust with no Python in it; `py` holds the PyO3 bindings (feature `python`).

pub mod algebra;
pub mod build;
pub mod error;
pub mod ids;
pub mod ingest;
pub mod memory;
pub mod numeric;
pub mod overlap;
pub mod parallel;
pub mod persist;
pub mod quantile;
pub mod query;
pub mod rank;
pub mod rfm;
pub mod roaring_view;
pub mod split;
pub mod store;
pub mod suggest;
pub mod words;

#[cfg(feature = "python")]
mod py;

pub use error::{Error, Result};

/// The extension allocates with mimalloc, which keeps freed memory for reuse.
/// RFM, qcut and builds work in tables of hundreds of MB per call; glibc maps
/// every block over 32 MiB afresh and unmaps it on free, so each call paid
/// the kernel's page faults and zeroing again (about a fifth of an RFM on
/// 10 M customers). polars does the same with jemalloc. `MIMALLOC_*`
/// environment variables tune it (`MIMALLOC_PURGE_DELAY=0` returns freed
/// memory at once).
#[cfg(feature = "python")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
