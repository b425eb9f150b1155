//! On-disk forms of a segment (Parquet) and of its delete vector.
//!
//! Segment file (docs/formats/checkpoint.md): one Parquet file, zstd, with
//! the table's columns named `c0, c1, …` in layout order (names live in the
//! catalog, so a RENAME never rewrites data), then `__row_id` (u64) and
//! `__begin_scn` (u64). Row groups of at most [`ROW_GROUP_ROWS`] rows with
//! statistics, so a later reader can prune by zone maps.
//!
//! Delete vector file (little-endian):
//!
//! ```text
//! magic "RUSTYDV1" | u32 count | count × (u32 position, u64 end scn) | u32 crc32c of all before
//! ```
//!
//! Both are written once, fsynced, and never changed: a checkpoint writes a
//! new delete vector file when more ends must be kept.

use std::io::{BufReader, Read};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use bytes::Bytes;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{ChunkReader, Length};
use rustydb_common::Scn;

use crate::error::{Result, StorageError};
use crate::io::ReadAt;
use crate::rowstore::batch::arrow_type;
use crate::segment::cache::SegmentCache;
use crate::segment::{Segment, StoredColumns, zone, zone_mapped};
use crate::spec::TableSpec;
use crate::value::Value;

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

const ROW_ID_FIELD: &str = "__row_id";
const BEGIN_FIELD: &str = "__begin_scn";
const DV_MAGIC: &[u8; 8] = b"RUSTYDV1";

fn file_schema(spec: &TableSpec) -> Arc<Schema> {
    let mut fields: Vec<Field> =
        spec.columns.iter().enumerate().map(|(i, c)| Field::new(format!("c{i}"), arrow_type(c.ty), true)).collect();
    fields.push(Field::new(ROW_ID_FIELD, DataType::UInt64, false));
    fields.push(Field::new(BEGIN_FIELD, DataType::UInt64, false));
    Arc::new(Schema::new(fields))
}

/// Encodes a segment as Parquet; returns the bytes and the columns they
/// hold (read for the purpose if the segment did not hold them).
pub fn encode_segment(spec: &TableSpec, seg: &Segment) -> Result<(Vec<u8>, Vec<ArrayRef>)> {
    let schema = file_schema(spec);
    let data = seg.all_columns()?;
    let mut columns = data.clone();
    columns.push(Arc::new(seg.row_ids.clone()));
    columns.push(Arc::new(seg.begins.clone()));
    let fail = |e: String| StorageError::Internal(format!("encoding a segment of table {}: {e}", spec.id));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| fail(e.to_string()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("1 is a valid zstd level")))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props)).map_err(|e| fail(e.to_string()))?;
    writer.write(&batch).map_err(|e| fail(e.to_string()))?;
    writer.close().map_err(|e| fail(e.to_string()))?;
    Ok((out, data))
}

/// What reading a segment file of `spec` just written from `bytes` needs.
pub(crate) fn stored_columns(
    spec: &TableSpec,
    cache: &Arc<SegmentCache>,
    file: &str,
    bytes: Bytes,
) -> Result<StoredColumns> {
    let fail = |e: String| StorageError::Internal(format!("reading back the footer of segment file {file}: {e}"));
    let meta = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::new()).map_err(|e| fail(e.to_string()))?;
    let zones = FileZones::of(spec, &meta).map_err(|e| fail(e.to_string()))?;
    Ok(zones.stored(cache, file, bytes.len() as u64, meta))
}

/// Opens a stored segment of `spec` for the segment cache: reads the file's
/// footer (checked against the spec and the row count the manifest
/// recorded) and its row ids and begins. Zone maps and NULL counts come
/// from the footer's statistics; the columns are read when first used.
pub(crate) fn open_segment(spec: &TableSpec, cache: &Arc<SegmentCache>, file: &str, rows: usize) -> Result<Segment> {
    let bad = |e: String| StorageError::Corruption(format!("segment file {file}: {e}"));
    let reader = FileChunks::open(cache, file)?;
    let meta = ArrowReaderMetadata::load(&reader, ArrowReaderOptions::new()).map_err(|e| bad(e.to_string()))?;
    let expected = file_schema(spec);
    let found = meta.schema();
    let types_match = found.fields().len() == expected.fields().len()
        && found.fields().iter().zip(expected.fields()).all(|(a, b)| a.data_type() == b.data_type());
    if !types_match || meta.metadata().file_metadata().num_rows() != rows as i64 {
        return Err(bad(format!(
            "{} rows of {found}, expected {rows} rows of {expected}",
            meta.metadata().file_metadata().num_rows()
        )));
    }
    let zones = FileZones::of(spec, &meta).map_err(|e| bad(e.to_string()))?;
    let (segment_zones, nulls) = (zones.segment.clone(), zones.nulls.clone());
    let stored = zones.stored(cache, file, reader.len(), meta);
    let n = spec.columns.len();
    let ids = read_columns(&stored, &[n, n + 1], None)?;
    let u64s =
        |a: &ArrayRef| a.as_any().downcast_ref::<UInt64Array>().cloned().ok_or_else(|| bad("bad id column".into()));
    let seg = Segment::stored(u64s(&ids[0])?, u64s(&ids[1])?, segment_zones, nulls, stored);
    seg.validate(spec)?;
    Ok(seg)
}

/// Reads columns `which` (ascending, no repeats) of a stored segment: of
/// one row group, or of all of them.
pub(crate) fn read_columns(stored: &StoredColumns, which: &[usize], group: Option<usize>) -> Result<Vec<ArrayRef>> {
    let file = &stored.file;
    let bad = |e: String| StorageError::Corruption(format!("segment file {file}: {e}"));
    let mut reader = FileChunks::open_sized(&stored.cache, file, stored.size)?;
    let rows = match group {
        Some(g) => stored.groups[g + 1] - stored.groups[g],
        None => stored.groups.last().copied().unwrap_or(0),
    };
    // Every column chunk the read needs, fetched up front.
    let meta = stored.meta.metadata();
    let schema = meta.file_metadata().schema_descr();
    let groups = match group {
        Some(g) => g..g + 1,
        None => 0..meta.num_row_groups(),
    };
    let leaves: Vec<usize> =
        (0..schema.num_columns()).filter(|&leaf| which.contains(&schema.get_column_root_idx(leaf))).collect();
    let chunks: Vec<(u64, u64)> =
        groups.flat_map(|g| leaves.iter().map(move |&leaf| meta.row_group(g).column(leaf).byte_range())).collect();
    reader.prefetch(&chunks).map_err(|e| StorageError::io(format!("reading segment file {file}"), e))?;
    let mask = ProjectionMask::roots(stored.meta.parquet_schema(), which.iter().copied());
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(reader, stored.meta.clone())
        .with_projection(mask)
        .with_batch_size(rows.max(1));
    if let Some(g) = group {
        builder = builder.with_row_groups(vec![g]);
    }
    let batches =
        builder.build().map_err(|e| bad(e.to_string()))?.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| {
            match e {
                ArrowError::IoError(m, e) => StorageError::io(format!("reading segment file {file}: {m}"), e),
                e => bad(e.to_string()),
            }
        })?;
    let schema = Arc::new(stored.meta.schema().project(which).map_err(|e| bad(e.to_string()))?);
    let batch = arrow::compute::concat_batches(&schema, &batches).map_err(|e| bad(e.to_string()))?;
    if batch.num_rows() != rows || batch.num_columns() != which.len() {
        return Err(bad(format!("{} rows in {} columns, expected {rows} rows", batch.num_rows(), batch.num_columns())));
    }
    Ok(batch.columns().to_vec())
}

/// What a segment file's statistics say of its columns.
struct FileZones {
    /// Per column, the zone map of the whole segment. Left unknown unless
    /// every row group has statistics (or holds only NULLs): pruning by a
    /// partial one would skip real rows.
    segment: Vec<Option<(Value, Value)>>,
    /// Per column, NULLs in the segment.
    nulls: Vec<usize>,
    /// Per row group, per column, the group's zone map (unknown for a
    /// group of only NULLs too, which prunes nothing).
    groups: Vec<Vec<Option<(Value, Value)>>>,
    /// First position of each row group, then the segment's length.
    starts: Vec<usize>,
}

impl FileZones {
    fn of(spec: &TableSpec, meta: &ArrowReaderMetadata) -> parquet::errors::Result<FileZones> {
        let row_groups = meta.metadata().row_groups();
        let mut starts = vec![0];
        for g in row_groups {
            starts.push(starts.last().expect("starts at 0") + usize::try_from(g.num_rows()).unwrap_or(0));
        }
        let mut out = FileZones {
            segment: Vec::with_capacity(spec.columns.len()),
            nulls: Vec::with_capacity(spec.columns.len()),
            groups: vec![Vec::with_capacity(spec.columns.len()); row_groups.len()],
            starts,
        };
        for (i, c) in spec.columns.iter().enumerate() {
            let stats = StatisticsConverter::try_new(&format!("c{i}"), meta.schema(), meta.parquet_schema())?;
            let group_nulls = stats.row_group_null_counts(row_groups)?;
            // Missing counts only make the planner's estimate rougher.
            out.nulls.push(group_nulls.iter().map(|n| n.unwrap_or(0) as usize).sum());
            if !zone_mapped(c.ty) {
                out.segment.push(None);
                out.groups.iter_mut().for_each(|g| g.push(None));
                continue;
            }
            let (mins, maxes) = (stats.row_group_mins(row_groups)?, stats.row_group_maxes(row_groups)?);
            let mut complete = true;
            for (g, group) in row_groups.iter().enumerate() {
                let known = mins.is_valid(g) && maxes.is_valid(g);
                let lo = zone(c.ty, mins.slice(g, 1).as_ref()).map(|(lo, _)| lo);
                let hi = zone(c.ty, maxes.slice(g, 1).as_ref()).map(|(_, hi)| hi);
                out.groups[g].push(if known { lo.zip(hi) } else { None });
                let all_null = group_nulls.is_valid(g) && group_nulls.value(g) == group.num_rows() as u64;
                complete &= known || all_null;
            }
            let lo = zone(c.ty, mins.as_ref()).map(|(lo, _)| lo);
            let hi = zone(c.ty, maxes.as_ref()).map(|(_, hi)| hi);
            out.segment.push(if complete { lo.zip(hi) } else { None });
        }
        Ok(out)
    }

    fn stored(self, cache: &Arc<SegmentCache>, file: &str, size: u64, meta: ArrowReaderMetadata) -> StoredColumns {
        StoredColumns {
            cache: cache.clone(),
            file: file.to_owned(),
            size,
            meta,
            groups: self.starts.into(),
            group_zones: self.groups.into(),
            _pin: Arc::new(cache.pin_file(file)),
        }
    }
}

/// A segment file as Parquet's reader reads it: ranges at a time.
///
/// The reader asks for each page's header and then its body, which from an
/// object store is a request each, one after the other: a row group's
/// column of a few pages took a dozen round trips. The column chunks a read
/// needs are therefore fetched first, together ([`ReadAt::read_ranges`]),
/// and the reader's requests served from them.
struct FileChunks {
    file: Arc<dyn ReadAt>,
    /// Fetched byte ranges by where they start, ascending.
    fetched: Vec<(u64, Bytes)>,
}

impl FileChunks {
    fn open(cache: &SegmentCache, file: &str) -> Result<FileChunks> {
        FileChunks::over(cache.open(file), file)
    }

    /// Opens a file known to be `size` bytes (no request to learn it).
    fn open_sized(cache: &SegmentCache, file: &str, size: u64) -> Result<FileChunks> {
        FileChunks::over(cache.open_sized(file, size), file)
    }

    fn over(opened: std::io::Result<Arc<dyn ReadAt>>, file: &str) -> Result<FileChunks> {
        let file = opened.map_err(|e| StorageError::io(format!("opening segment file {file}"), e))?;
        Ok(FileChunks { file, fetched: Vec::new() })
    }

    /// Fetches the `(start, length)` chunks.
    fn prefetch(&mut self, chunks: &[(u64, u64)]) -> std::io::Result<()> {
        let ranges: Vec<std::ops::Range<u64>> = chunks.iter().map(|&(start, len)| start..start + len).collect();
        let bytes = self.file.read_ranges(&ranges)?;
        self.fetched = chunks.iter().map(|&(start, _)| start).zip(bytes).collect();
        self.fetched.sort_by_key(|(start, _)| *start);
        Ok(())
    }

    /// The fetched bytes from `start` to the end of the chunk holding it,
    /// if at least `len` of them.
    fn fetched_from(&self, start: u64, len: usize) -> Option<Bytes> {
        let i = self.fetched.partition_point(|(s, _)| *s <= start).checked_sub(1)?;
        let (s, bytes) = &self.fetched[i];
        let from = usize::try_from(start - s).ok()?;
        (from.checked_add(len)? <= bytes.len()).then(|| bytes.slice(from..))
    }
}

/// Reads a file sequentially from a position.
struct FileCursor {
    file: Arc<dyn ReadAt>,
    pos: u64,
}

impl Read for FileCursor {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.file.size().saturating_sub(self.pos) as usize);
        self.file.read_exact_at(&mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Length for FileChunks {
    fn len(&self) -> u64 {
        self.file.size()
    }
}

impl ChunkReader for FileChunks {
    type T = Box<dyn Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(match self.fetched_from(start, 1) {
            Some(bytes) => Box::new(bytes::Buf::reader(bytes)),
            None => Box::new(BufReader::with_capacity(64 * 1024, FileCursor { file: self.file.clone(), pos: start })),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        if let Some(bytes) = self.fetched_from(start, length) {
            return Ok(bytes.slice(..length));
        }
        if start.checked_add(length as u64).is_none_or(|end| end > self.file.size()) {
            return Err(parquet::errors::ParquetError::EOF(format!(
                "{length} bytes at {start} of a {}-byte file",
                self.file.size()
            )));
        }
        let mut buf = vec![0; length];
        self.file.read_exact_at(&mut buf, start)?;
        Ok(buf.into())
    }
}

/// Encodes a delete vector (positions ascending).
pub fn encode_dv(ends: &[(u32, Scn)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + ends.len() * 12);
    out.extend_from_slice(DV_MAGIC);
    out.extend_from_slice(&u32::try_from(ends.len()).expect("positions are u32").to_le_bytes());
    for (pos, end) in ends {
        out.extend_from_slice(&pos.to_le_bytes());
        out.extend_from_slice(&end.0.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a delete vector of a segment with `rows` rows.
pub fn decode_dv(name: &str, bytes: &[u8], rows: usize) -> Result<Vec<(u32, Scn)>> {
    let bad = |what: &str| StorageError::Corruption(format!("delete vector {name}: {what}"));
    if bytes.len() < 16 || &bytes[..8] != DV_MAGIC {
        return Err(bad("no header"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(body).to_le_bytes() != crc {
        return Err(bad("checksum mismatch"));
    }
    let count = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes")) as usize;
    let entries = &body[12..];
    if entries.len() != count * 12 {
        return Err(bad("length does not match the count"));
    }
    let mut out = Vec::with_capacity(count);
    for e in entries.chunks_exact(12) {
        let pos = u32::from_le_bytes(e[..4].try_into().expect("4 bytes"));
        let end = Scn(u64::from_le_bytes(e[4..].try_into().expect("8 bytes")));
        if pos as usize >= rows || out.last().is_some_and(|(p, _)| *p >= pos) {
            return Err(bad("position out of order or range"));
        }
        out.push((pos, end));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Vfs;
    use crate::spec::ColumnSpec;
    use crate::value::{ColumnType, Row, Value};
    use rustydb_common::{RowId, TableId};

    fn spec() -> TableSpec {
        TableSpec {
            id: TableId(3),
            columns: vec![
                ColumnSpec { name: "a".into(), ty: ColumnType::Decimal { precision: 12, scale: 2 }, nullable: true },
                ColumnSpec { name: "b".into(), ty: ColumnType::TimestampTz, nullable: true },
                ColumnSpec { name: "c".into(), ty: ColumnType::Text, nullable: true },
            ],
            indexes: vec![],
        }
    }

    /// A segment of `n` rows (every third one all NULL), stored in `dir`
    /// as `name` and opened again through a cache of `budget` bytes.
    fn stored(dir: &std::path::Path, vfs: Arc<dyn Vfs>, n: usize, budget: usize) -> (Segment, Segment, Vec<Row>) {
        let spec = spec();
        let rows: Vec<Row> = (0..n)
            .map(|i| match i % 3 {
                2 => vec![Value::Null, Value::Null, Value::Null].into(),
                _ => vec![
                    Value::Decimal((i as i128 * 100 - 7).into()),
                    Value::TimestampTz(i as i64 * 1000),
                    Value::Text(format!("é{i}").into()),
                ]
                .into(),
            })
            .collect();
        let versions: Vec<(RowId, Scn, &[Value])> =
            rows.iter().enumerate().map(|(i, r)| (RowId(i as u64 + 1), Scn(4 + i as u64), &r[..])).collect();
        let built = Segment::build(&spec, &versions);
        let (bytes, _) = encode_segment(&spec, &built).unwrap();
        std::fs::write(dir.join("s.parquet"), &bytes).unwrap();
        let cache = SegmentCache::new(Arc::new(crate::segment::store::DirSegments::new(vfs, dir.to_owned())), budget);
        let back = open_segment(&spec, &cache, "s.parquet", n).unwrap();
        (built, back, rows)
    }

    #[test]
    fn segment_round_trips_through_parquet_and_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (built, back, rows) = stored(dir.path(), Arc::new(crate::io::OsVfs), 300_000, usize::MAX);
        let spec = spec();
        assert_eq!((back.len(), back.max_begin), (300_000, Scn(300_003)));
        assert_eq!(back.zones, built.zones, "zone maps from the footer's statistics");
        assert_eq!(back.nulls, built.nulls, "NULL counts from the footer's statistics");
        assert_eq!(back.nulls, vec![100_000; 3]);
        let cache = match &*back.data_for_tests() {
            crate::segment::ColumnDataKind::Stored(cache) => cache.clone(),
            other => panic!("opened segments are stored, not {other:?}"),
        };
        assert_eq!(back.row(&spec, 131_072).unwrap(), rows[131_072]);
        assert_eq!(cache.stats().reads, 3, "a lookup reads its row group of each column");
        for pos in [0, 2, 131_071, 131_072, 299_999] {
            assert_eq!(back.row(&spec, pos).unwrap(), rows[pos], "row {pos} (row groups of {ROW_GROUP_ROWS})");
        }
        assert_eq!(back.row_id(299_999), RowId(300_000));
        // Across a row group's end.
        let both = back.column_range(&[2], 131_070, 4).unwrap();
        let texts: Vec<&str> =
            both[0].as_any().downcast_ref::<arrow::array::StringArray>().unwrap().iter().flatten().collect();
        assert_eq!(texts, ["é131070", "é131071", "é131073"], "131072 is NULL");
        let stats = cache.stats();
        assert_eq!((stats.reads, stats.evictions), (9, 0), "each row group of each column was read once");
        assert_eq!(back.group_end(5), ROW_GROUP_ROWS);
        assert_eq!(back.group_end(299_999), 300_000);
        use std::ops::Bound::*;
        let at_least =
            |v: i64| vec![crate::segment::ZoneFilter { column: 1, lo: Included(Value::TimestampTz(v)), hi: Unbounded }];
        assert_eq!(back.ruled_out_until(5, &at_least(200_000 * 1000)), Some(ROW_GROUP_ROWS), "group 0 ends before");
        assert_eq!(back.ruled_out_until(5, &at_least(100_000 * 1000)), None);
        assert_eq!(back.ruled_out_until(299_999, &at_least(200_000 * 1000)), None);
        drop(back);
        assert_eq!(cache.stats().bytes, 0, "a dropped segment leaves nothing in the cache");
        assert!(open_segment(&spec, &cache, "s.parquet", 3).is_err(), "row count is checked");
        let mut other = spec.clone();
        other.columns[1].ty = ColumnType::Int64;
        assert!(open_segment(&other, &cache, "s.parquet", 300_000).is_err(), "column types are checked");
    }

    #[test]
    fn evicted_columns_are_read_again_and_read_failures_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let vfs = Arc::new(crate::io::FaultyVfs::new());
        let faults = vfs.state();
        // Room for about one column of 50,000 rows.
        let (_, back, rows) = stored(dir.path(), vfs, 50_000, 600_000);
        let spec = spec();
        for round in 0..2 {
            assert_eq!(back.columns(&[2]).unwrap()[0].len(), 50_000);
            assert_eq!(back.columns(&[0]).unwrap()[0].len(), 50_000, "round {round}");
        }
        let cache = match &*back.data_for_tests() {
            crate::segment::ColumnDataKind::Stored(cache) => cache.clone(),
            other => panic!("{other:?}"),
        };
        let stats = cache.stats();
        assert!(stats.evictions >= 3 && stats.reads >= 4, "{stats:?}");
        assert!(stats.bytes <= 600_000, "{stats:?}");
        faults.fail_read.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = back.row(&spec, 7).unwrap_err();
        assert!(err.to_string().contains("injected read failure"), "{err}");
        faults.fail_read.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(back.row(&spec, 7).unwrap(), rows[7]);
    }

    #[test]
    fn a_damaged_segment_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let (_, _, _) = stored(dir.path(), Arc::new(crate::io::OsVfs), 1000, usize::MAX);
        let path = dir.path().join("s.parquet");
        let good = std::fs::read(&path).unwrap();
        let store = crate::segment::store::DirSegments::new(Arc::new(crate::io::OsVfs), dir.path().to_owned());
        let cache = SegmentCache::new(Arc::new(store), usize::MAX);
        // Parquet pages carry no checksum by default, so a flip may decode;
        // what must never happen is a panic.
        for at in (0..good.len()).step_by(97) {
            let mut bad = good.clone();
            bad[at] ^= 0xff;
            std::fs::write(&path, &bad).unwrap();
            if let Ok(seg) = open_segment(&spec(), &cache, "s.parquet", 1000) {
                let _ = seg.all_columns();
            }
        }
        std::fs::write(&path, &good[..good.len() / 2]).unwrap();
        assert!(open_segment(&spec(), &cache, "s.parquet", 1000).is_err(), "a cut file");
    }

    #[test]
    fn delete_vector_round_trips_and_detects_damage() {
        let ends = vec![(0, Scn(7)), (5, Scn(9))];
        let bytes = encode_dv(&ends);
        assert_eq!(decode_dv("d", &bytes, 6).unwrap(), ends);
        assert!(decode_dv("d", &bytes, 5).is_err(), "position beyond the segment");
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(decode_dv("d", &bad, 6).is_err(), "flip at {at}");
        }
        assert!(decode_dv("d", &bytes[..bytes.len() - 1], 6).is_err());
    }
}
