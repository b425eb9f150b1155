//! The server's front ends (PostgreSQL wire, the SQL shell) as a library, so tests and benchmarks can run
//! them in-process. The `rustydb` binary (`main.rs`) composes them.

mod format;
pub mod pgwire;
pub mod shell;
