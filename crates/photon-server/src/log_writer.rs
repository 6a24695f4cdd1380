//! The server's log writer: formatted lines are appended to a shared buffer and written to
//! stderr in batches by one background thread.
//!
//! Why not `tracing_appender::non_blocking`: it sends every line through a channel and wakes
//! its writer thread once per line, and on a two-core machine that wake-up and thread switch
//! cost a point lookup about a fifth of its throughput (docs/benchmarks.md). Here a request
//! pays a memcpy under a mutex; the writer wakes every [`FLUSH_EVERY`], or at once when the
//! buffer passes [`WAKE_AT`].
//!
//! Nothing is dropped: past [`BLOCK_AT`] a logging thread writes the batch itself, so a
//! writer that falls behind slows logging down rather than growing memory. Lines keep their
//! order: a batch is taken and written under one lock. [`LogGuard`] writes what is left when
//! the server stops; a killed process loses at most the last [`FLUSH_EVERY`] of lines, as a
//! channel-based writer loses what is in its channel.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long a line may wait in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// A buffer this large wakes the writer before its time.
const WAKE_AT: usize = 64 * 1024;
/// A buffer this large is written by the thread that logs, not left to grow.
const BLOCK_AT: usize = 4 * 1024 * 1024;

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Where batches go (stderr); held while a batch is taken and written, so batches
    /// arrive in order.
    out: Mutex<Box<dyn Write + Send>>,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    stop: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves only bytes behind; keep logging.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn new(out: Box<dyn Write + Send>) -> Arc<Self> {
        Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            out: Mutex::new(out),
        })
    }

    /// Takes the buffer and writes it out.
    fn drain(&self) {
        let mut out = lock(&self.out);
        let batch = std::mem::take(&mut lock(&self.pending).buf);
        if !batch.is_empty() {
            // Nowhere to report a failed write to stderr; the lines are lost either way.
            let _ = out.write_all(&batch);
            let _ = out.flush();
        }
    }
}

/// The `MakeWriter` handed to `tracing_subscriber::fmt`. Each event arrives as one
/// `write_all` of a whole formatted line, so lines never interleave.
#[derive(Clone)]
pub(crate) struct BatchWriter(Arc<Shared>);

/// Writes what is buffered and stops the writer thread when dropped.
pub(crate) struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts the writer thread.
pub(crate) fn batch_writer() -> (BatchWriter, LogGuard) {
    let shared = Shared::new(Box::new(std::io::stderr()));
    let worker = shared.clone();
    let thread = std::thread::Builder::new()
        .name("photon-log".into())
        .spawn(move || loop {
            let stop = {
                let pending = lock(&worker.pending);
                let (pending, _) = worker
                    .wake
                    .wait_timeout_while(pending, FLUSH_EVERY, |p| !p.stop && p.buf.len() < WAKE_AT)
                    .unwrap_or_else(|p| p.into_inner());
                pending.stop
            };
            worker.drain();
            if stop {
                break;
            }
        })
        .ok();
    (BatchWriter(shared.clone()), LogGuard { shared, thread })
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        lock(&self.shared.pending).stop = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.shared.drain();
    }
}

impl Write for BatchWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let len = {
            let mut pending = lock(&self.0.pending);
            pending.buf.extend_from_slice(bytes);
            pending.buf.len()
        };
        if len >= BLOCK_AT {
            self.0.drain();
        } else if len >= WAKE_AT {
            self.0.wake.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A writer with no background thread: only the logging thread and `drain` write.
    fn without_thread() -> (BatchWriter, Capture) {
        let capture = Capture::default();
        (BatchWriter(Shared::new(Box::new(capture.clone()))), capture)
    }

    #[test]
    fn lines_wait_in_order_until_drained() {
        let (mut w, out) = without_thread();
        for i in 0..1000 {
            w.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(lock(&out.0).is_empty(), "nothing is written per line");
        w.0.drain();
        let text = String::from_utf8(lock(&out.0).clone()).unwrap();
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text, expected);
    }

    #[test]
    fn a_full_buffer_is_written_by_the_thread_that_logs() {
        let (mut w, out) = without_thread();
        let line = vec![b'x'; 1024];
        for _ in 0..BLOCK_AT / line.len() {
            w.write_all(&line).unwrap();
        }
        assert_eq!(lock(&out.0).len(), BLOCK_AT);
        assert!(lock(&w.0.pending).buf.is_empty());
    }

    #[test]
    fn the_guard_writes_what_is_left() {
        let capture = Capture::default();
        let shared = Shared::new(Box::new(capture.clone()));
        let guard = LogGuard {
            shared: shared.clone(),
            thread: None,
        };
        BatchWriter(shared).write_all(b"last words\n").unwrap();
        drop(guard);
        assert_eq!(lock(&capture.0).as_slice(), b"last words\n");
    }
}
