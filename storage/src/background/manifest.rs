//! The checkpoint manifest: which segment files hold the database as of one
//! SCN, and the counters recovery needs to carry on after it.
//!
//! ```text
//! MANIFEST = magic "RUSTYMAN" | u32 format version (1) | u32 crc32c(body) | u64 body length | body (JSON)
//! ```
//!
//! Written as `MANIFEST.tmp`, fsynced, renamed over `MANIFEST`, and the
//! directory fsynced: a crash leaves either the old manifest or the new one,
//! never a mix. Recovery loads it and replays only WAL records after `scn`.
//! See docs/formats/checkpoint.md.

use rustydb_common::Scn;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StorageError};
use crate::spec::TableSpec;

const MAGIC: &[u8; 8] = b"RUSTYMAN";
const FORMAT_VERSION: u32 = 1;
const HEADER_BYTES: usize = 24;

/// The state of the database as of one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Every commit at or below this SCN is in the segments.
    pub scn: Scn,
    /// Counters: every id below these was handed out by then.
    pub next_row_id: u64,
    pub next_object_id: u64,
    pub next_segment_id: u64,
    /// Sequence id and the highest value reserved.
    pub sequences: Vec<(u64, i64)>,
    pub tables: Vec<TableEntry>,
    /// Where the segment files are when not in the data directory (the
    /// `--segment-store` URL): a restart must name the same store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_store: Option<String>,
}

/// One table: its layout as of the checkpoint and its segments, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    pub spec: TableSpec,
    pub segments: Vec<SegmentEntry>,
}

/// One segment file and its delete vector file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentEntry {
    pub file: String,
    pub rows: usize,
    pub dv_file: Option<String>,
}

impl Manifest {
    pub fn encode(&self) -> Vec<u8> {
        let body = serde_json::to_vec(self).expect("manifests always serialise");
        let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Manifest> {
        let bad = |what: String| StorageError::Corruption(format!("manifest: {what}"));
        if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
            return Err(bad("no header".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(bad(format!("unknown format version {version}")));
        }
        let crc = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes"));
        let len = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
        let body = &bytes[HEADER_BYTES..];
        if body.len() as u64 != len {
            return Err(bad(format!("body of {} bytes, header says {len}", body.len())));
        }
        if crc32c::crc32c(body) != crc {
            return Err(bad("checksum mismatch".into()));
        }
        serde_json::from_slice(body).map_err(|e| bad(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ColumnSpec;
    use crate::value::ColumnType;
    use rustydb_common::TableId;

    #[test]
    fn round_trip_and_damage() {
        let m = Manifest {
            scn: Scn(42),
            next_row_id: 7,
            next_object_id: 1002,
            next_segment_id: 3,
            sequences: vec![(1001, 64)],
            tables: vec![TableEntry {
                spec: TableSpec {
                    id: TableId(1000),
                    columns: vec![ColumnSpec { name: "a".into(), ty: ColumnType::Int32, nullable: true }],
                    indexes: vec![],
                },
                segments: vec![SegmentEntry { file: "s1.parquet".into(), rows: 6, dv_file: None }],
            }],
            segment_store: Some("s3://b/p".into()),
        };
        let bytes = m.encode();
        assert_eq!(Manifest::decode(&bytes).unwrap(), m);
        for at in [0, 9, 13, 20, 30, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(Manifest::decode(&bad).is_err(), "flip at {at}");
        }
        assert!(Manifest::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
