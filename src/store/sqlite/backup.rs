//! `crm-comms backup`: a consistent copy of the SQLite file while the server runs and writes,
//! through SQLite's online backup API, then `PRAGMA integrity_check` of the copy.
//!
//! The source connection holds one read transaction for the whole copy: in WAL mode writers go
//! on (into the WAL), the copy is the snapshot of that moment (every write acknowledged before
//! it began is in it), and the backup never restarts however busy the server is (a backup
//! that takes a new snapshot per step would start over after each commit of another
//! connection).

use std::path::Path;
use std::time::Duration;

/// Pages copied per step (4 MiB of 4 KiB pages): between steps the progress is reported.
const PAGES_PER_STEP: i32 = 1024;

/// What a backup copied.
#[derive(Debug, Clone, Copy)]
pub struct Copied {
    pub pages: u64,
    pub bytes: u64,
}

/// Copies the database `source` into `output` (which must not exist), reporting
/// `(pages copied, pages in all)` after each step, then checks the copy's integrity.
pub fn backup(
    source: &Path,
    output: &Path,
    busy_timeout: Duration,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<Copied> {
    use rusqlite::OpenFlags;
    use rusqlite::backup::{Backup, StepResult};
    anyhow::ensure!(
        !output.exists(),
        "{} exists: choose a new file (a backup never overwrites one)",
        output.display()
    );
    let src = rusqlite::Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(busy_timeout)?;
    // The snapshot: a read transaction the backup's steps all use.
    src.execute_batch("BEGIN")?;
    let _: i64 = src.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    let partial = output.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let result = (|| -> anyhow::Result<Copied> {
        let mut dst = rusqlite::Connection::open(&partial)?;
        let copied = {
            let backup = Backup::new(&src, &mut dst)?;
            loop {
                match backup.step(PAGES_PER_STEP)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    StepResult::Busy | StepResult::Locked => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {}
                }
                let p = backup.progress();
                let all = p.pagecount.max(0) as u64;
                progress(all - (p.remaining.max(0) as u64).min(all), all);
            }
            let p = backup.progress();
            p.pagecount.max(0) as u64
        };
        progress(copied, copied);
        let check: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        anyhow::ensure!(
            check == "ok",
            "the copy failed its integrity check: {check}"
        );
        // One self-contained file: the copy's WAL (if any) folded in and removed.
        let journal: String = dst.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
        anyhow::ensure!(
            journal.eq_ignore_ascii_case("delete"),
            "the copy stayed in {journal} mode"
        );
        dst.close().map_err(|(_, e)| e)?;
        let bytes = std::fs::metadata(&partial)?.len();
        Ok(Copied {
            pages: copied,
            bytes,
        })
    })();
    let _ = src.execute_batch("COMMIT");
    match result {
        Ok(copied) => {
            std::fs::rename(&partial, output)?;
            Ok(copied)
        }
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            Err(err)
        }
    }
}
