//! The store file: one file, written atomically, refused whole if anything is off.
//!
//! Layout (all integers little-endian):
//! ```text
//! header   "UOSEGSTO" | u32 format version | u32 section count
//! section  u8 kind | u32 name length | name (UTF-8) | u64 payload length | u32 CRC-32 of payload | payload
//!          ... (the first section is the manifest: kind, name and count of every other section)
//! trailer  "UOSEGEND" | u32 CRC-32 of the header
//! ```
//! Version 2 adds two section kinds: `Clock` (the store's time zone and the
//! name of its event value column) and `Events` (one per event name, laid
//! out by `events::format`). A store without events in UTC writes neither and
//! keeps version 1, which every uoseg reads. Version 3 adds `Note` sections
//! (key → text the Python package keeps with the store: playbooks, the tag
//! catalog), written only by stores that have notes.
//! Bitmaps are in the Roaring portable format (the bytes CRoaring, pyroaring, Java
//! and Go exchange). A save writes a temporary file in the same folder, fsyncs it
//! and renames it over the target, so an interrupted save leaves the old file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use croaring::{Bitmap, Portable};
use rayon::prelude::*;

use crate::bytes::Reader;
use crate::error::{Error, Result};
use crate::events::{self, EventLog, History, Zone};
use crate::ids::IdMap;
use crate::logical::Logical;
use crate::numeric::NumericColumn;
use crate::store::{Categorical, Numeric, Store};

const MAGIC: &[u8; 8] = b"UOSEGSTO";
const TRAILER: &[u8; 8] = b"UOSEGEND";
pub const FORMAT_VERSION: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum SectionKind {
    Manifest = 0,
    Ids = 1,
    Universe = 2,
    Tag = 3,
    Categorical = 4,
    Numeric = 5,
    Segment = 6,
    Clock = 7,
    Events = 8,
    Note = 9,
}

impl SectionKind {
    fn from_u8(value: u8) -> Option<Self> {
        use SectionKind::*;
        [Manifest, Ids, Universe, Tag, Categorical, Numeric, Segment, Clock, Events, Note]
            .into_iter()
            .find(|k| *k as u8 == value)
    }
}

struct Section {
    kind: SectionKind,
    name: String,
    count: u64,
    payload: Vec<u8>,
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

pub fn bitmap_bytes(bitmap: &Bitmap) -> Vec<u8> {
    bitmap.serialize::<Portable>()
}

/// Parse a portable bitmap that must span `bytes` exactly.
pub fn bitmap_from_bytes(bytes: &[u8], what: &str) -> Result<Bitmap> {
    let bitmap = Bitmap::try_deserialize::<Portable>(bytes)
        .ok_or_else(|| Error::format(format!("{what}: not a valid Roaring portable bitmap")))?;
    if bitmap.get_serialized_size_in_bytes::<Portable>() != bytes.len() {
        return Err(Error::format(format!("{what}: bitmap length does not match its section")));
    }
    Ok(bitmap)
}

fn categorical_payload(attribute: &Categorical) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(attribute.values.len() as u32).to_le_bytes());
    for (value, users) in &attribute.values {
        put_str(&mut out, value);
        let bytes = bitmap_bytes(users);
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

fn parse_categorical(payload: &[u8], name: &str) -> Result<Categorical> {
    let what = format!("attribute '{name}'");
    let mut reader = Reader::new(payload, &what);
    let count = reader.u32()?;
    let mut values = BTreeMap::new();
    for _ in 0..count {
        let value = reader.string()?;
        let len = reader.len_u64()?;
        let bitmap = bitmap_from_bytes(reader.take(len)?, &what)?;
        values.insert(value, Arc::new(bitmap));
    }
    reader.finish()?;
    Ok(Categorical::new(values))
}

fn sections_of(store: &Store) -> Vec<Section> {
    let mut ids = Vec::new();
    store.ids().encode(&mut ids);
    let mut sections = vec![
        Section { kind: SectionKind::Ids, name: String::new(), count: store.ids().len() as u64, payload: ids },
        Section {
            kind: SectionKind::Universe,
            name: String::new(),
            count: store.len(),
            payload: bitmap_bytes(&store.universe().users),
        },
    ];
    let tags: Vec<(&String, &Arc<Bitmap>)> = store.tags().iter().collect();
    sections.par_extend(tags.into_par_iter().map(|(name, bitmap)| Section {
        kind: SectionKind::Tag,
        name: name.clone(),
        count: bitmap.cardinality(),
        payload: bitmap_bytes(bitmap),
    }));
    let attributes: Vec<(&String, &Arc<Categorical>)> = store.attributes().iter().collect();
    sections.par_extend(attributes.into_par_iter().map(|(name, attribute)| Section {
        kind: SectionKind::Categorical,
        name: name.clone(),
        count: attribute.values.len() as u64,
        payload: categorical_payload(attribute),
    }));
    let numerics: Vec<(&String, &Arc<Numeric>)> = store.numerics().iter().collect();
    sections.par_extend(numerics.into_par_iter().map(|(name, numeric)| {
        let (code, ticks) = numeric.logical.code();
        let mut payload = vec![code];
        payload.extend_from_slice(&ticks.to_le_bytes());
        payload.extend_from_slice(&numeric.column.to_bytes());
        Section {
            kind: SectionKind::Numeric,
            name: name.clone(),
            count: numeric.column.non_null().cardinality(),
            payload,
        }
    }));
    sections.extend(store.segments().iter().map(|(name, text)| Section {
        kind: SectionKind::Segment,
        name: name.clone(),
        count: 0,
        payload: text.as_bytes().to_vec(),
    }));
    sections.extend(store.notes().iter().map(|(key, text)| Section {
        kind: SectionKind::Note,
        name: key.clone(),
        count: 0,
        payload: text.as_bytes().to_vec(),
    }));
    let log = store.events();
    if !log.is_empty() || log.zone != Zone::utc() {
        let mut clock = Vec::new();
        put_str(&mut clock, log.zone.name());
        put_str(&mut clock, log.value_name.as_deref().unwrap_or(""));
        sections.push(Section { kind: SectionKind::Clock, name: String::new(), count: 0, payload: clock });
        let histories: Vec<(&String, &Arc<History>)> = log.events.iter().collect();
        sections.par_extend(histories.into_par_iter().map(|(name, history)| Section {
            kind: SectionKind::Events,
            name: name.clone(),
            count: history.days.len() as u64,
            payload: events::format::encode(history),
        }));
    }
    let mut manifest = Vec::new();
    manifest.extend_from_slice(&(sections.len() as u64).to_le_bytes());
    for section in &sections {
        manifest.push(section.kind as u8);
        put_str(&mut manifest, &section.name);
        manifest.extend_from_slice(&section.count.to_le_bytes());
        manifest.extend_from_slice(&(section.payload.len() as u64).to_le_bytes());
    }
    sections.insert(0, Section { kind: SectionKind::Manifest, name: String::new(), count: 0, payload: manifest });
    sections
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "store".into());
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    path.with_file_name(format!(".{name}.tmp-{}-{nanos}", std::process::id()))
}

/// Save atomically: temporary file in the same folder, fsync, rename, fsync folder.
pub fn save(store: &Store, path: &Path) -> Result<()> {
    let sections = sections_of(store);
    let temporary = temporary_path(path);
    let written = write_file(&sections, &temporary, path).and_then(|()| {
        fs::rename(&temporary, path).map_err(|e| Error::io(&e, "cannot replace", path))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable; not every platform can open a folder.
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    });
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// Write `sections` to `path`; errors name `target`, the file the user asked for.
fn write_file(sections: &[Section], path: &Path, target: &Path) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(&e, "cannot create", target))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    write_sections(&mut out, sections).map_err(|e| Error::io(&e, "cannot write", target))?;
    let file = out.into_inner().map_err(|e| Error::io(e.error(), "cannot write", target))?;
    file.sync_all().map_err(|e| Error::io(&e, "cannot write", target))?;
    Ok(())
}

fn write_sections(out: &mut impl Write, sections: &[Section]) -> std::io::Result<()> {
    let mut header = Vec::with_capacity(16);
    header.extend_from_slice(MAGIC);
    // A file is written in the oldest version that holds it, so stores that
    // need nothing newer stay readable by older uoseg releases.
    let version: u32 = if sections.iter().any(|s| s.kind == SectionKind::Note) {
        3
    } else if sections.iter().any(|s| matches!(s.kind, SectionKind::Clock | SectionKind::Events)) {
        2
    } else {
        1
    };
    header.extend_from_slice(&version.to_le_bytes());
    header.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    out.write_all(&header)?;
    for section in sections {
        out.write_all(&[section.kind as u8])?;
        out.write_all(&(section.name.len() as u32).to_le_bytes())?;
        out.write_all(section.name.as_bytes())?;
        out.write_all(&(section.payload.len() as u64).to_le_bytes())?;
        out.write_all(&crc32fast::hash(&section.payload).to_le_bytes())?;
        out.write_all(&section.payload)?;
    }
    out.write_all(TRAILER)?;
    out.write_all(&crc32fast::hash(&header).to_le_bytes())
}

/// The bytes of the store file `save` would write (for pickling and for
/// sending a store to another process); [`decode`] reads them back.
pub fn encode(store: &Store) -> Vec<u8> {
    let sections = sections_of(store);
    let mut out = Vec::with_capacity(sections.iter().map(|s| s.payload.len() + s.name.len() + 17).sum::<usize>() + 28);
    // Writing into a Vec cannot fail.
    let _ = write_sections(&mut out, &sections);
    out
}

/// Load a store file; any defect is a `StoreFormat` error and nothing is returned.
pub fn load(path: &Path) -> Result<Store> {
    let bytes = fs::read(path).map_err(|e| Error::io(&e, "cannot read store file", path))?;
    decode(&bytes)
}

/// Load only the parts of a store file that `select` asks for: it is given
/// the saved segments (name → query text) and returns the names of the tags,
/// attributes and events to read; everything else of those kinds is skipped
/// without being read. The id dictionary, universe, segments, notes and time
/// zone are always read, and every section read is checked as [`load`] checks
/// it. The result answers queries on the selected names; it must not be saved
/// in place of the file (the Python `TagStore` refuses to).
pub fn load_selected(path: &Path, select: impl FnOnce(&BTreeMap<String, String>) -> BTreeSet<String>) -> Result<Store> {
    use std::io::{BufReader, Read, Seek, SeekFrom};

    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::format("store file is truncated")
        } else {
            Error::io(&e, "cannot read store file", path)
        }
    };
    let file = File::open(path).map_err(|e| Error::io(&e, "cannot read store file", path))?;
    let mut file = BufReader::with_capacity(1 << 16, file);
    let mut header = [0u8; 16];
    file.read_exact(&mut header).map_err(|_| Error::format("not a uoseg store file (too short)"))?;
    let mut reader = Reader::new(&header, "store file");
    if reader.take(8)? != MAGIC {
        return Err(Error::format("not a uoseg store file (bad magic bytes)"));
    }
    let version = reader.u32()?;
    if version > FORMAT_VERSION || version == 0 {
        return Err(Error::format(format!(
            "store file format version {version} is newer than this uoseg reads ({FORMAT_VERSION}); upgrade uoseg"
        )));
    }
    let count = reader.u32()? as usize;
    // Pass 1: every section's header and where its payload starts.
    struct Header {
        kind: SectionKind,
        name: String,
        len: usize,
        crc: u32,
        offset: u64,
    }
    let mut headers: Vec<Header> = Vec::with_capacity(count.min(1 << 20));
    let mut offset = 16u64;
    for index in 0..count {
        let mut fixed = [0u8; 5];
        file.read_exact(&mut fixed).map_err(io)?;
        let kind = SectionKind::from_u8(fixed[0])
            .ok_or_else(|| Error::format(format!("section {index}: unknown kind {}", fixed[0])))?;
        let name_len = u32::from_le_bytes([fixed[1], fixed[2], fixed[3], fixed[4]]) as usize;
        if name_len > 1 << 20 {
            return Err(Error::format(format!("section {index}: a name of {name_len} bytes")));
        }
        let mut name = vec![0u8; name_len];
        file.read_exact(&mut name).map_err(io)?;
        let name = String::from_utf8(name).map_err(|_| Error::format(format!("section {index}: name is not UTF-8")))?;
        let mut sizes = [0u8; 12];
        file.read_exact(&mut sizes).map_err(io)?;
        let len = u64::from_le_bytes(sizes[..8].try_into().unwrap_or_default());
        let crc = u32::from_le_bytes(sizes[8..].try_into().unwrap_or_default());
        offset += 5 + name_len as u64 + 12;
        let len_usize = usize::try_from(len).map_err(|_| Error::format("section too large"))?;
        headers.push(Header { kind, name, len: len_usize, crc, offset });
        let skip = i64::try_from(len).map_err(|_| Error::format("section too large"))?;
        file.seek_relative(skip).map_err(io)?;
        offset += len;
    }
    let mut trailer = [0u8; 12];
    file.read_exact(&mut trailer).map_err(|_| Error::format("store file is truncated (no trailer)"))?;
    if &trailer[..8] != TRAILER
        || u32::from_le_bytes(trailer[8..].try_into().unwrap_or_default()) != crc32fast::hash(&header)
    {
        return Err(Error::format("store file trailer is corrupted"));
    }
    // Pass 2: the small sections, then the selected large ones.
    let large = |kind: SectionKind| {
        matches!(kind, SectionKind::Tag | SectionKind::Categorical | SectionKind::Numeric | SectionKind::Events)
    };
    let mut payloads: Vec<Option<Vec<u8>>> = (0..headers.len()).map(|_| None).collect();
    let mut read = |at: usize, payloads: &mut Vec<Option<Vec<u8>>>| -> Result<()> {
        let h = &headers[at];
        file.seek(SeekFrom::Start(h.offset)).map_err(io)?;
        let mut payload = vec![0u8; h.len];
        file.read_exact(&mut payload).map_err(io)?;
        if crc32fast::hash(&payload) != h.crc {
            return Err(Error::format(format!(
                "section {at} ('{}'): checksum mismatch, the file is corrupted",
                h.name
            )));
        }
        payloads[at] = Some(payload);
        Ok(())
    };
    let small: Vec<usize> = (0..headers.len()).filter(|&at| !large(headers[at].kind)).collect();
    for at in small {
        read(at, &mut payloads)?;
    }
    let mut segments = BTreeMap::new();
    for (h, payload) in headers.iter().zip(&payloads) {
        if let (SectionKind::Segment, Some(bytes)) = (h.kind, payload) {
            if let Ok(text) = std::str::from_utf8(bytes) {
                segments.insert(h.name.clone(), text.to_owned());
            }
        }
    }
    let wanted = select(&segments);
    let selected: Vec<usize> =
        (0..headers.len()).filter(|&at| large(headers[at].kind) && wanted.contains(&headers[at].name)).collect();
    for at in selected {
        read(at, &mut payloads)?;
    }
    let raw = headers
        .iter()
        .zip(&payloads)
        .map(|(h, payload)| RawSection {
            kind: h.kind,
            name: h.name.clone(),
            payload: payload.as_deref().unwrap_or(&[]),
            len: h.len,
            loaded: payload.is_some(),
        })
        .collect();
    assemble(raw)
}

struct RawSection<'a> {
    kind: SectionKind,
    name: String,
    /// Empty when the section was skipped by a partial load (`loaded` false).
    payload: &'a [u8],
    len: usize,
    loaded: bool,
}

pub fn decode(bytes: &[u8]) -> Result<Store> {
    let mut reader = Reader::new(bytes, "store file");
    let magic = reader.take(8).map_err(|_| Error::format("not a uoseg store file (too short)"))?;
    if magic != MAGIC {
        return Err(Error::format("not a uoseg store file (bad magic bytes)"));
    }
    let version = reader.u32()?;
    if version > FORMAT_VERSION {
        return Err(Error::format(format!(
            "store file format version {version} is newer than this uoseg reads ({FORMAT_VERSION}); upgrade uoseg"
        )));
    }
    if version == 0 {
        return Err(Error::format("store file format version 0 is not valid"));
    }
    let count = reader.u32()? as usize;
    let header_crc = crc32fast::hash(&bytes[..16]);
    let mut raw = Vec::with_capacity(count.min(1 << 20));
    for index in 0..count {
        let kind_byte = reader.u8()?;
        let kind = SectionKind::from_u8(kind_byte)
            .ok_or_else(|| Error::format(format!("section {index}: unknown kind {kind_byte}")))?;
        let name = reader.string()?;
        let len = reader.len_u64()?;
        let crc = reader.u32()?;
        let payload = reader.take(len)?;
        if crc32fast::hash(payload) != crc {
            return Err(Error::format(format!("section {index} ('{name}'): checksum mismatch, the file is corrupted")));
        }
        raw.push(RawSection { kind, name, payload, len, loaded: true });
    }
    let trailer = reader.take(8).map_err(|_| Error::format("store file is truncated (no trailer)"))?;
    if trailer != TRAILER || reader.u32()? != header_crc {
        return Err(Error::format("store file trailer is corrupted"));
    }
    reader.finish()?;
    assemble(raw)
}

fn assemble(raw: Vec<RawSection<'_>>) -> Result<Store> {
    let manifest =
        raw.first().filter(|s| s.kind == SectionKind::Manifest).ok_or_else(|| Error::format("no manifest"))?;
    let mut reader = Reader::new(manifest.payload, "manifest");
    let listed = reader.len_u64()?;
    if listed != raw.len() - 1 {
        return Err(Error::format("manifest does not match the sections"));
    }
    for section in &raw[1..] {
        let kind = reader.u8()?;
        let name = reader.string()?;
        let _count = reader.u64()?;
        let len = reader.len_u64()?;
        if kind != section.kind as u8 || name != section.name || len != section.len {
            return Err(Error::format(format!("manifest does not match section {:?}", section.name)));
        }
    }
    reader.finish()?;

    let mut ids = None;
    let mut universe = None;
    let mut tag_sections = Vec::new();
    let mut attribute_sections = Vec::new();
    let mut numeric_sections = Vec::new();
    let mut segments = BTreeMap::new();
    let mut notes = Vec::new();
    let mut clock = None;
    let mut event_sections = Vec::new();
    for section in raw[1..].iter().filter(|s| s.loaded) {
        match section.kind {
            SectionKind::Ids => ids = Some(IdMap::decode(section.payload)?),
            SectionKind::Universe => universe = Some(bitmap_from_bytes(section.payload, "universe")?),
            SectionKind::Tag => tag_sections.push(section),
            SectionKind::Categorical => attribute_sections.push(section),
            SectionKind::Numeric => numeric_sections.push(section),
            SectionKind::Segment => {
                let text = String::from_utf8(section.payload.to_vec())
                    .map_err(|_| Error::format(format!("segment {:?}: text is not UTF-8", section.name)))?;
                segments.insert(section.name.clone(), text);
            }
            SectionKind::Note => {
                let text = String::from_utf8(section.payload.to_vec())
                    .map_err(|_| Error::format(format!("note {:?}: text is not UTF-8", section.name)))?;
                notes.push((section.name.clone(), text));
            }
            SectionKind::Clock => clock = Some(parse_clock(section.payload)?),
            SectionKind::Events => event_sections.push(section),
            SectionKind::Manifest => return Err(Error::format("a second manifest")),
        }
    }
    let ids = ids.ok_or_else(|| Error::format("store file has no id dictionary"))?;
    let universe = universe.ok_or_else(|| Error::format("store file has no universe"))?;
    let tags: Vec<(String, Arc<Bitmap>)> = tag_sections
        .par_iter()
        .map(|s| Ok((s.name.clone(), Arc::new(bitmap_from_bytes(s.payload, &format!("tag {:?}", s.name))?))))
        .collect::<Result<_>>()?;
    let attributes: Vec<(String, Arc<Categorical>)> = attribute_sections
        .par_iter()
        .map(|s| Ok((s.name.clone(), Arc::new(parse_categorical(s.payload, &s.name)?))))
        .collect::<Result<_>>()?;
    let numerics: Vec<(String, Arc<Numeric>)> = numeric_sections
        .par_iter()
        .map(|s| Ok((s.name.clone(), Arc::new(parse_numeric(s.payload, &s.name)?))))
        .collect::<Result<_>>()?;
    let mut numeric_map = BTreeMap::new();
    for (name, numeric) in numerics {
        if numeric_map.insert(name.clone(), numeric).is_some() {
            return Err(Error::format(format!("numeric attribute '{name}' appears twice")));
        }
    }
    let mut tag_map = BTreeMap::new();
    for (name, bitmap) in tags {
        if tag_map.insert(name.clone(), bitmap).is_some() {
            return Err(Error::format(format!("tag '{name}' appears twice")));
        }
    }
    let mut attribute_map = BTreeMap::new();
    for (name, attribute) in attributes {
        if attribute_map.insert(name.clone(), attribute).is_some() {
            return Err(Error::format(format!("attribute '{name}' appears twice")));
        }
    }
    let mut log = clock.unwrap_or_else(|| EventLog::new(Zone::utc()));
    if !event_sections.is_empty() && raw.iter().all(|s| s.kind != SectionKind::Clock) {
        return Err(Error::format("store file has events but no time zone"));
    }
    let histories: Vec<(String, History)> = event_sections
        .par_iter()
        .map(|s| Ok((s.name.clone(), events::format::decode(s.payload, &format!("event {:?}", s.name))?)))
        .collect::<Result<_>>()?;
    for (name, history) in histories {
        if log.events.insert(name.clone(), Arc::new(history)).is_some() {
            return Err(Error::format(format!("event '{name}' appears twice")));
        }
    }
    let mut store = Store::from_parts(universe, ids, tag_map, attribute_map).with_extras(numeric_map, segments);
    for (key, text) in notes {
        if store.notes().contains_key(&key) {
            return Err(Error::format(format!("note '{key}' appears twice")));
        }
        store = store.with_note(&key, Some(text));
    }
    Ok(store.with_events(log))
}

/// The time zone and the value column's name (empty: none).
fn parse_clock(payload: &[u8]) -> Result<EventLog> {
    let mut reader = Reader::new(payload, "time zone section");
    let zone = Zone::named(&reader.string()?).map_err(|e| Error::format(e.to_string()))?;
    let value_name = reader.string()?;
    reader.finish()?;
    let mut log = EventLog::new(zone);
    log.value_name = (!value_name.is_empty()).then_some(value_name);
    Ok(log)
}

fn parse_numeric(payload: &[u8], name: &str) -> Result<Numeric> {
    let what = format!("numeric attribute '{name}'");
    let mut reader = Reader::new(payload, &what);
    let code = reader.u8()?;
    let ticks = reader.u64()? as i64;
    let logical =
        Logical::from_code(code, ticks).ok_or_else(|| Error::format(format!("{what}: unknown value type {code}")))?;
    let column = NumericColumn::from_bytes(reader.take(reader.remaining())?).map_err(|e| e.context(&what))?;
    Ok(Numeric { column, logical })
}
