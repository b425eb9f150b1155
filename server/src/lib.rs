//! The server's front ends as a library, so tests and benchmarks can run
//! them in-process. The `rustydb` binary (`main.rs`) composes them.

pub mod pgwire;
