//! The SQLite fast path: reads ([`reader`]) and the writer's batches ([`writer`]) run straight
//! through the SQLite library (rusqlite) on blocking threads, with the same SeaQuery statements
//! the other backends run through SeaORM. WAL checkpoints run beside the writer, on a thread of
//! their own ([`checkpoint`]).
//!
//! Why: sqlx's SQLite driver hands every row from its worker thread to the async task over a
//! channel; for a 100-row timeline that cost more CPU than the query itself
//! (`docs/performance.md`). Held equal to SeaORM's road on SQLite by the tests in
//! [`crate::store`] (`fast_path_answers_like_seaorm`), and to the other backends by the
//! integration suite, which runs on all three.

pub mod backup;
pub mod checkpoint;
pub mod reader;
pub mod writer;
