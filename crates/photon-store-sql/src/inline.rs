//! SQLite reads on the calling thread, for the hot read path: the credential lookup, image
//! lookups and listing pages, and the health ping.
//!
//! sqlx runs every SQLite connection on a thread of its own, so each statement costs the
//! request thread switches (the statement sent, each row and the completion sent back); on
//! the read path those switches were most of the server's CPU (docs/benchmarks.md). A read in
//! WAL mode does not wait for the writer, and these are index lookups of tens of
//! microseconds, cheaper than the switches they save, so they run where the request runs, on a
//! small pool of read-only connections of the same database file. The SQL text is the one
//! PostgreSQL runs through sqlx; only the driver differs, and rows are mapped by the same
//! code (`Cols`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use photon_store::StoreResult;
use rusqlite::{Connection, OpenFlags};

use crate::backend;

/// A bound value of an inline query, by its position (`$1`, `$2`, …).
pub(crate) enum Arg<'a> {
    Text(&'a str),
    Int(i64),
}

pub(crate) struct InlineReader {
    path: PathBuf,
    /// Connections not in use; a request takes one and puts it back.
    idle: Mutex<Vec<Connection>>,
}

/// Connections kept open for reuse; more may be open for a moment under a burst.
const MAX_IDLE: usize = 16;

impl InlineReader {
    /// A reader of the database file at `path`, which the caller has opened (and migrated)
    /// already: connections are read-only and never create the file.
    pub(crate) fn new(path: &Path) -> StoreResult<Self> {
        let reader = InlineReader {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        };
        // Open one now, so a path this process cannot read fails at start-up, not per request.
        let conn = reader.open()?;
        reader.put_back(conn);
        Ok(reader)
    }

    fn open(&self) -> StoreResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(backend)?;
        // A reader waits only while another connection recovers the WAL after a crash, which
        // is brief; waiting beats failing the request.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn take(&self) -> StoreResult<Connection> {
        match self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            Some(conn) => Ok(conn),
            None => self.open(),
        }
    }

    fn put_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }

    /// Runs `sql` with `args` and maps every row.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        map: impl FnMut(&InlineRow<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        self.query(sql, args, usize::MAX, map)
    }

    /// The first row `sql` finds, if any; the statement stops there.
    pub(crate) fn first<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        map: impl FnMut(&InlineRow<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        Ok(self.query(sql, args, 1, map)?.into_iter().next())
    }

    fn query<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        max_rows: usize,
        mut map: impl FnMut(&InlineRow<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let conn = self.take()?;
        let out = run(&conn, sql, args, max_rows, &mut map);
        // A connection that failed mid-statement is still sound: SQLite resets the statement.
        self.put_back(conn);
        out
    }
}

fn run<T>(
    conn: &Connection,
    sql: &str,
    args: &[Arg<'_>],
    max_rows: usize,
    map: &mut impl FnMut(&InlineRow<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    // `$N` names the N-th argument, wherever and however often it appears, as sqlx reads it.
    for index in 1..=stmt.parameter_count() {
        let position = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                crate::StoreError::Backend(format!(
                    "inline SQLite query: parameter {index} is not of the form $N"
                ))
            })?;
        let arg = position
            .checked_sub(1)
            .and_then(|i| args.get(i))
            .ok_or_else(|| {
                crate::StoreError::Backend(format!("inline SQLite query: no argument ${position}"))
            })?;
        match arg {
            Arg::Text(v) => stmt.raw_bind_parameter(index, v),
            Arg::Int(v) => stmt.raw_bind_parameter(index, v),
        }
        .map_err(backend)?;
    }
    // Names are resolved once per statement: rusqlite's by-name lookup asks SQLite for every
    // column's name on every call, which was a tenth of a page's cost.
    let names: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while out.len() < max_rows {
        let Some(row) = rows.next().map_err(backend)? else {
            break;
        };
        out.push(map(&InlineRow { row, names: &names })?);
    }
    Ok(out)
}

/// A row of an inline query, read by column name like an sqlx row.
pub(crate) struct InlineRow<'a> {
    row: &'a rusqlite::Row<'a>,
    names: &'a [String],
}

impl InlineRow<'_> {
    pub(crate) fn get<T: rusqlite::types::FromSql>(&self, col: &str) -> StoreResult<T> {
        let index = self.names.iter().position(|n| n == col).ok_or_else(|| {
            crate::StoreError::Backend(format!("inline SQLite query: no column '{col}'"))
        })?;
        self.row.get(index).map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(name: &str) -> (InlineReader, PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "photon-inline-{name}-{}.sqlite",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let rw = Connection::open(&path).unwrap();
        rw.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT, n INTEGER); \
             INSERT INTO t VALUES ('a', 1), ('b', 2), ('c', 3);",
        )
        .unwrap();
        (InlineReader::new(&path).unwrap(), path)
    }

    #[test]
    fn dollar_n_names_the_nth_argument_wherever_it_appears() {
        let (r, path) = reader("bind");
        // $2 first, $1 twice, $3 unused in the text but given: bound by name, not by order.
        let rows = r
            .rows(
                "SELECT k FROM t WHERE n >= $2 AND (k = $1 OR k = 'c' OR k = $1) ORDER BY k",
                &[Arg::Text("b"), Arg::Int(2), Arg::Int(99)],
                |row| row.get::<String>("k"),
            )
            .unwrap();
        assert_eq!(rows, ["b", "c"]);
        let none = r
            .first("SELECT k FROM t WHERE k = $1", &[Arg::Text("z")], |row| {
                row.get::<String>("k")
            })
            .unwrap();
        assert_eq!(none, None);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_bad_query_is_an_error_not_a_panic() {
        let (r, path) = reader("bad");
        let cases: [(&str, &[Arg<'_>]); 4] = [
            ("SELECT k FROM t WHERE k = ?", &[Arg::Text("a")]),
            ("SELECT k FROM t WHERE k = $0", &[Arg::Text("a")]),
            ("SELECT k FROM t WHERE k = $2", &[Arg::Text("a")]),
            ("SELECT nope FROM t", &[]),
        ];
        for (sql, args) in cases {
            let got = r.rows(sql, args, |row| row.get::<String>("k"));
            assert!(got.is_err(), "{sql} should fail");
        }
        // The pool is still usable after the failures.
        let n = r
            .first("SELECT COUNT(*) AS n FROM t", &[], |row| {
                row.get::<i64>("n")
            })
            .unwrap();
        assert_eq!(n, Some(3));
        let _ = std::fs::remove_file(path);
    }
}
