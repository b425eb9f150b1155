//! Limits on everything a client can grow: each names its unit and says why.

/// Largest WAL record (one commit's redo). A transaction whose redo would be
/// larger fails with 54000 (program_limit_exceeded) instead of writing it. 1 GiB lets a
/// 10M-row bulk load of a narrow table (about 680 MB of redo) commit as one
/// transaction (recovery reads the log file into memory, so this also
/// bounds what one record adds there). Splitting a commit over several
/// records would remove the cap.
pub const WAL_RECORD_BYTES_MAX: usize = 1024 * 1024 * 1024;

/// Most row changes one transaction may buffer before commit.
pub const TXN_WRITES_MAX: usize = 20_000_000;

/// Longest SQL identifier, as PostgreSQL's NAMEDATALEN - 1.
pub const IDENTIFIER_BYTES_MAX: usize = 63;

/// Most columns in one table (PostgreSQL allows 1,600).
pub const TABLE_COLUMNS_MAX: usize = 1_600;

/// Largest single text or bytea value (PostgreSQL: 1 GB).
pub const VALUE_BYTES_MAX: usize = 1 << 30;

/// Most rows a scan of the row store puts into one Arrow record batch.
pub const SCAN_BATCH_ROWS_MAX: usize = 8_192;

/// Longest line of COPY input held while waiting for its end. A COPY that
/// never sends a newline fails here instead of growing without bound.
pub const COPY_LINE_BYTES_MAX: usize = 256 * 1024 * 1024;
