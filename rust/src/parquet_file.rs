//! An export written as a Parquet file, its columns encoded in parallel.
//!
//! pyarrow's Parquet writer encodes one column after another on one thread;
//! at 1 M rows that alone took longer than polars's whole (threaded) write. So
//! Parquet exports are written here with arrow-rs's `parquet` crate: each
//! export batch becomes one row group whose columns are encoded on uoseg's
//! pool, while the next batch is made on the other side of a `rayon::join`.
//!
//! The file carries the Arrow schema (as `ArrowWriter` does), so pyarrow and
//! polars read the id, dictionary and timestamp types back as written. The id
//! column is never dictionary-encoded (every id is distinct). Dictionary
//! (categorical and arm) columns are encoded from their codes by
//! `parquet_dictionary` rather than by arrow-rs, which would hash every row's
//! string again, and keep no min/max statistics, whose string compares cost
//! more than encoding the column. Integer columns of a small span are
//! dictionary-encoded by `parquet_dictionary` too (a table indexed by value,
//! not arrow-rs's hashing), with min/max statistics; numeric and id columns
//! keep theirs.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow_array::types::UInt32Type;
use arrow_array::{Array, DictionaryArray, Int64Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnPath, SchemaDescriptor};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::export::Export;
use crate::parquet_dictionary::{self, DictionaryChunk};

/// Writes every batch of `export` to a new Parquet file at `path` (the
/// caller renames it into place); returns the rows written.
pub fn write(export: &mut Export, path: &Path) -> Result<u64> {
    let schema = export.schema();
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("uoseg {}", env!("CARGO_PKG_VERSION")));
    for (i, field) in schema.fields().iter().enumerate() {
        let column = ColumnPath::from(field.name().as_str());
        if i == 0 {
            builder = builder.set_column_dictionary_enabled(column, false);
        } else if matches!(field.data_type(), DataType::Dictionary(..)) {
            builder = builder.set_column_statistics_enabled(column, EnabledStatistics::None);
        }
    }
    let mut props = builder.build();
    add_encoded_arrow_schema_to_metadata(&schema, &mut props);
    let props = Arc::new(props);
    let parquet_schema = ArrowSchemaConverter::new().convert(&schema).map_err(|e| failed(e, path))?;
    let file = File::create(path).map_err(|e| Error::io(&e, "creating", path))?;
    let mut writer =
        SerializedFileWriter::new(BufWriter::with_capacity(1 << 20, file), parquet_schema.root_schema_ptr(), props)
            .map_err(|e| failed(e, path))?;
    let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());

    let mut rows = 0u64;
    let mut group = 0;
    let mut current = export.next_batch()?;
    while let Some(batch) = current {
        let (next, chunks) = rayon::join(|| export.next_batch(), || encode(&factory, &parquet_schema, group, &batch));
        let mut row_group = writer.next_row_group().map_err(|e| failed(e, path))?;
        for chunk in chunks.map_err(|e| failed(e, path))? {
            match chunk {
                Chunk::Arrow(chunk) => chunk.append_to_row_group(&mut row_group),
                Chunk::Dictionary(chunk) => row_group.append_column(&chunk.bytes, chunk.close),
            }
            .map_err(|e| failed(e, path))?;
        }
        row_group.close().map_err(|e| failed(e, path))?;
        rows += batch.num_rows() as u64;
        group += 1;
        current = next?;
    }
    writer.close().map_err(|e| failed(e, path))?;
    Ok(rows)
}

/// One column chunk of a row group, from arrow-rs's writer or, for
/// categorical columns, from their codes (`parquet_dictionary`).
enum Chunk {
    Arrow(ArrowColumnChunk),
    Dictionary(DictionaryChunk),
}

/// The column chunks of one row group, each column encoded on its own task.
fn encode(
    factory: &ArrowRowGroupWriterFactory,
    leaves: &SchemaDescriptor,
    group: usize,
    batch: &RecordBatch,
) -> std::result::Result<Vec<Chunk>, ParquetError> {
    let writers = factory.create_column_writers(group)?;
    let schema = batch.schema();
    // Flat columns: one leaf, and one writer, per field.
    writers
        .into_par_iter()
        .zip(batch.columns().par_iter().zip(schema.fields().par_iter()))
        .enumerate()
        .map(|(i, (mut writer, (array, field)))| {
            if let Some(codes) = array.as_any().downcast_ref::<DictionaryArray<UInt32Type>>() {
                if let Some(chunk) = parquet_dictionary::encode(leaves.column(i), codes)? {
                    return Ok(Chunk::Dictionary(chunk));
                }
            }
            // Not the id column: its values are all distinct.
            if let (true, Some(integers)) = (i > 0, array.as_any().downcast_ref::<Int64Array>()) {
                if let Some(chunk) = parquet_dictionary::encode_integers(leaves.column(i), integers)? {
                    return Ok(Chunk::Dictionary(chunk));
                }
            }
            for leaf in compute_leaves(field, array)? {
                writer.write(&leaf)?;
            }
            writer.close().map(Chunk::Arrow)
        })
        .collect()
}

fn failed(err: ParquetError, path: &Path) -> Error {
    Error::Io {
        kind: std::io::ErrorKind::Other,
        message: format!("writing the Parquet file {}: {err}", path.display()),
        path: Some(path.display().to_string()),
    }
}
