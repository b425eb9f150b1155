//! Unique keys among a transaction's own writes: a key freed by an update or
//! delete can be taken again, a key still held cannot, savepoints restore.

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
    let sp = t.savepoint();
    t.delete(T, b, snap).unwrap();
    t.insert(T, vec![row(1, 5)]).unwrap();
    t.rollback_to(&sp);
    assert!(matches!(t.insert(T, vec![row(1, 0)]), Err(StorageError::UniqueViolation { .. })), "b is back");
    assert!(t.insert(T, (3..2000).map(|k| row(k, k)).collect()).is_ok());
    t.commit().unwrap();
    let view = s.begin(Isolation::ReadCommitted).view();
    assert_eq!(crate::contents(&view).len(), 1999);
    assert_eq!(row_id(&view, 2), Some(a));
}
