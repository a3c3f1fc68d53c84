//! WAL checkpoints on a thread of their own, beside the writer.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the
//! committing connection: the writer would stop to copy the WAL's pages into the database
//! file and `fsync` it, while every write waits. Instead the writer nudges this thread after
//! each batch, and it runs `PRAGMA wal_checkpoint(PASSIVE)` on its own connection (a passive
//! checkpoint takes no lock the writer or the readers need), at most once per [`PAUSE`], so
//! one checkpoint copies what several batches wrote. The writer keeps SQLite's automatic
//! checkpoint with a higher threshold ([`WRITER_BACKSTOP_PAGES`]) in case this thread falls
//! behind. Other processes (the seed's Python backend) keep their own automatic checkpoints.

use std::sync::mpsc;
use std::time::Duration;

/// WAL pages after which the writer's own (automatic) checkpoint runs: the backstop when the
/// checkpoint thread is behind. 16,384 pages of 4 KiB: 64 MiB.
pub const WRITER_BACKSTOP_PAGES: i64 = 16_384;

/// Least time between two checkpoints.
pub const PAUSE: Duration = Duration::from_millis(100);

/// The checkpoint thread's handle: dropping it (with the writer) ends the thread.
pub struct Checkpointer {
    tx: mpsc::SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread on `conn` (a connection of its own to the writer's file).
    pub fn spawn(conn: rusqlite::Connection) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    if let Err(err) = checkpoint(&conn) {
                        tracing::warn!(error = %err, "WAL checkpoint failed; the writer's automatic checkpoint covers it");
                    }
                    std::thread::sleep(PAUSE);
                }
            })?;
        Ok(Self { tx })
    }

    /// Asks for a checkpoint soon (after a commit); never waits.
    pub fn nudge(&self) {
        let _ = self.tx.try_send(());
    }
}

/// One passive checkpoint (its counts of WAL frames are not needed).
fn checkpoint(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
