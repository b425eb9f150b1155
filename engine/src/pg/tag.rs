//! PostgreSQL command tags (the text of CommandComplete) from typed
//! outcomes: `INSERT 0 3`, `UPDATE 2`, `COMMIT`, `CREATE TABLE`.

use crate::api::{Outcome, TransactionEvent, Verb};

/// The command tag PostgreSQL sends for `outcome`.
pub fn command_tag(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Affected { verb, rows } => format!("{} {rows}", rows_tag_prefix(*verb)),
        Outcome::Transaction(event) => transaction_tag(*event).to_owned(),
        Outcome::Command(name) => (*name).to_owned(),
    }
}

/// What comes before the row count in a tag: `INSERT 0` (the 0 is the
/// OID PostgreSQL once reported), otherwise the verb.
pub fn rows_tag_prefix(verb: Verb) -> &'static str {
    match verb {
        Verb::Insert => "INSERT 0",
        other => other.keyword(),
    }
}

fn transaction_tag(event: TransactionEvent) -> &'static str {
    match event {
        TransactionEvent::Begun => "BEGIN",
        TransactionEvent::Committed { .. } => "COMMIT",
        // PostgreSQL answers COMMIT of a failed block with ROLLBACK, and
        // ROLLBACK TO SAVEPOINT with ROLLBACK too.
        TransactionEvent::RolledBack | TransactionEvent::RolledBackToSavepoint => "ROLLBACK",
        TransactionEvent::SavepointSet => "SAVEPOINT",
        TransactionEvent::SavepointReleased => "RELEASE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_read_as_postgresql_writes_them() {
        let affected = |verb, rows| Outcome::Affected { verb, rows };
        assert_eq!(command_tag(&affected(Verb::Insert, 3)), "INSERT 0 3");
        assert_eq!(command_tag(&affected(Verb::Update, 0)), "UPDATE 0");
        assert_eq!(command_tag(&affected(Verb::Select, 7)), "SELECT 7");
        assert_eq!(command_tag(&Outcome::Transaction(TransactionEvent::Committed { scn: None })), "COMMIT");
        assert_eq!(command_tag(&Outcome::Transaction(TransactionEvent::RolledBack)), "ROLLBACK");
        assert_eq!(command_tag(&Outcome::Command("CREATE TABLE")), "CREATE TABLE");
    }
}
