//! uoseg: a user-segmentation engine. The core (everything but `py`) is plain
//! Rust with no Python in it; `py` holds the PyO3 bindings (feature `python`).
//!
//! The layers, top to bottom (imports point down only; `.ci/module_cycles.py`
//! checks there is no cycle, and `docs/architecture.md` has the whole map):
//!
//! ```text
//! py                          PyO3 bindings: convert, release the GIL
//! query                       DSL: parse, bind, plan, fused execution
//! arrow_io                    Arrow columns into store updates
//! parquet_file                an export as a Parquet file, columns in parallel
//! export, handover            an audience's rows as Arrow batches; as warehouse
//!                               bitmaps of own ids, and back
//! rfm, quantile, rank,        practices over columns and bitmaps
//!   split, overlap, retention,    (retention: cohorts and active users;
//!   labels, snapshots, sampling   labels: playbook rules; snapshots: diffs)
//! selection                   exact order statistics of f64 values (quantile, rank)
//! persist                     the store file
//! exchange                    Doris/StarRocks and ClickHouse bitmap bytes
//! store                       immutable snapshots: universe, ids, tags, attributes
//! events                      what users did per calendar day; behaviour conditions
//! ingest, build, numeric      Arrow to dense ids and codes; bitmap builds; range index
//! ids, names, bytes, logical  id dictionary, NFC names, byte reader, numeric units
//! algebra, memory, parallel   set helpers, huge pages, the thread pool
//! roaring                     containers, the portable format, the chunk
//!                               kernel, the view into CRoaring bitmaps
//! error, syntax, suggest      the one error enum, syntax errors, suggestions
//! cpu                         which instruction-set paths to take (`UOSEG_CPU`)
//! ```

pub mod algebra;
pub mod arrow_io;
pub mod build;
pub mod bytes;
pub mod cpu;
pub mod error;
pub mod events;
pub mod exchange;
pub mod export;
pub mod handover;
pub mod ids;
pub mod ingest;
pub mod labels;
pub mod logical;
pub mod memory;
pub mod names;
pub mod numeric;
pub mod overlap;
pub mod parallel;
pub mod parquet_dictionary;
pub mod parquet_file;
pub mod persist;
pub mod quantile;
pub mod query;
pub mod rank;
pub mod retention;
pub mod rfm;
pub mod roaring;
pub mod sampling;
pub mod selection;
pub mod snapshots;
pub mod split;
pub mod store;
pub mod suggest;
pub mod syntax;
pub mod user_codes;

#[cfg(feature = "python")]
mod py;
#[cfg(test)]
mod test_random;

pub use error::{Error, Result};
