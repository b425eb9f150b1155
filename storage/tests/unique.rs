//! Unique keys among a transaction's own writes: a key freed by an update or
//! delete can be taken again, a key still held cannot, lookups by key find
//! the row that holds it now, savepoints restore.

use rustydb_storage::{Isolation, Storage, StorageError, StorageOptions};

use crate::{T, create_kv, row, row_id};

#[test]
fn own_writes_keep_keys_unique() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), StorageOptions::default()).unwrap();
    create_kv(&s);
    let mut t = s.begin(Isolation::ReadCommitted);
    t.begin_statement();
    let a = t.insert(T, vec![row(1, 0)]).unwrap()[0];
    assert!(matches!(t.insert(T, vec![row(1, 0)]), Err(StorageError::UniqueViolation { .. })));
    let snap = t.snapshot();
    t.update(T, a, row(2, 0), snap).unwrap();
    let b = t.insert(T, vec![row(1, 0)]).unwrap()[0];
    assert!(matches!(t.insert(T, vec![row(2, 0)]), Err(StorageError::UniqueViolation { .. })));
    // Lookups by key inside the transaction find the own row holding it.
    assert_eq!((row_id(&t.view(), 1), row_id(&t.view(), 2)), (Some(b), Some(a)));
    let sp = t.savepoint();
    t.delete(T, b, snap).unwrap();
    assert_eq!(row_id(&t.view(), 1), None);
    let c = t.insert(T, vec![row(1, 5)]).unwrap()[0];
    t.update(T, a, row(7, 0), snap).unwrap();
    assert_eq!((row_id(&t.view(), 1), row_id(&t.view(), 2), row_id(&t.view(), 7)), (Some(c), None, Some(a)));
    t.rollback_to(&sp);
    assert!(matches!(t.insert(T, vec![row(1, 0)]), Err(StorageError::UniqueViolation { .. })), "b is back");
    assert_eq!((row_id(&t.view(), 1), row_id(&t.view(), 2), row_id(&t.view(), 7)), (Some(b), Some(a), None));
    assert!(t.insert(T, (3..2000).map(|k| row(k, k)).collect()).is_ok());
    t.commit().unwrap();
    let view = s.begin(Isolation::ReadCommitted).view();
    assert_eq!(crate::contents(&view).len(), 1999);
    assert_eq!(row_id(&view, 2), Some(a));
}

/// `without_waiting` runs a write at once when no lock is in the way, and
/// otherwise reports it would block, writing nothing, so the caller can run
/// it again where it may wait.
#[test]
fn writes_that_would_wait_report_it_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), StorageOptions::default()).unwrap();
    create_kv(&s);
    let mut setup = s.begin(Isolation::ReadCommitted);
    setup.begin_statement();
    let a = setup.insert(T, vec![row(1, 0)]).unwrap()[0];
    setup.commit().unwrap();

    let mut holder = s.begin(Isolation::ReadCommitted);
    holder.begin_statement();
    let snap = holder.snapshot();
    holder.update(T, a, row(1, 10), snap).unwrap();

    let mut t = s.begin(Isolation::ReadCommitted);
    t.begin_statement();
    let snap = t.snapshot();
    // The row and, for an insert, the key are held: both would wait.
    assert!(t.without_waiting(|t| t.update(T, a, row(1, 20), snap)).unwrap().is_none());
    assert!(t.without_waiting(|t| t.insert(T, vec![row(1, 5)])).unwrap().is_none());
    // A free key goes through at once; errors still come back as errors.
    assert!(t.without_waiting(|t| t.insert(T, vec![row(2, 0)])).unwrap().is_some());
    let e = t.without_waiting(|t| t.insert(T, vec![row(2, 0)])).unwrap_err();
    assert!(matches!(e, StorageError::UniqueViolation { .. }), "{e}");
    holder.commit().unwrap();
    // Once the holder is gone the same write succeeds without waiting, and
    // the refused attempt left nothing behind: one version from `holder`.
    t.refresh_snapshot();
    let snap = t.snapshot();
    assert!(t.without_waiting(|t| t.update(T, a, row(1, 30), snap)).unwrap().is_some());
    t.commit().unwrap();
    let view = s.begin(Isolation::ReadCommitted).view();
    assert_eq!(crate::contents(&view), vec![(1, 30), (2, 0)]);
    assert_eq!(row_id(&view, 1), Some(a));
}
