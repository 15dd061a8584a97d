//! Fsync jobs: group commit under `Always`, the shared flusher under `Interval`, poisoning.
//!
//! Group commit: an appender under `Always` waits until `Progress::durable` covers its batch.
//! If no job is queued for its log it queues one on the store's [`Committer`] thread; the job
//! snapshots the written end under the state lock, fdatasyncs *outside* the lock (writers keep
//! appending into the page cache meanwhile; the next job covers them) and publishes the new
//! durable end. Every appender whose batch was written before the snapshot is acknowledged by
//! that one fsync.
//!
//! Why one committer thread per store rather than a blocking-pool task per job: under load the
//! thread never sleeps between jobs (the queue is never empty), so handing a job over costs a
//! mutex and a push, not a thread wake-up and two context switches; on a small or virtualised
//! machine those hand-offs cost more CPU than the fdatasync itself. Jobs of different logs run
//! one after another, so while one log syncs the others gather more records per fsync.
//!
//! Invariant (no lost wake-up): the job clears `sync_running` and notifies the `watch`
//! while holding the `sync_running` lock; a waiter that saw `sync_running == true` under the
//! same lock has already subscribed, so it observes that notification.
//!
//! A failed fsync (or index write) poisons the log: after a failed fsync the kernel may have
//! dropped the dirty pages, so retrying and reporting success could acknowledge lost data.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};

use crate::FsyncPolicy;
use crate::error::AppendError;
use crate::index;
use crate::log::{Log, LogShared};
use crate::segment;

/// Makes everything written so far durable and publishes it. Returns the poison reason on
/// failure. Blocking: call from a blocking context.
pub(crate) fn sync_once(sh: &LogShared) -> Result<(), String> {
    let _job = sh.sync_job.lock();
    if let Some(reason) = sh.poisoned_reason() {
        return Err(reason.to_string());
    }
    let (target, ts, files, active, dir_dirty, idx_file, first_entry, entries) = {
        let mut st = sh.state.lock();
        let durable = sh.progress.borrow().durable;
        if st.next <= durable && st.pending_sync.is_empty() && !st.dir_dirty {
            return Ok(());
        }
        let files = std::mem::take(&mut st.pending_sync);
        let dir_dirty = std::mem::replace(&mut st.dir_dirty, false);
        let a = &mut st.active;
        let first_entry = a.idx_persisted;
        let entries = a.index.get(first_entry..).unwrap_or_default().to_vec();
        a.idx_persisted = a.index.len();
        (
            st.next,
            st.last_ts,
            files,
            Arc::clone(&st.active.file),
            dir_dirty,
            Arc::clone(&st.active.idx_file),
            first_entry,
            entries,
        )
    };
    let result = (|| -> std::io::Result<()> {
        if sh.fail_next_sync.swap(false, Ordering::AcqRel) {
            return Err(std::io::Error::other("injected fsync failure"));
        }
        for f in &files {
            f.sync_data()?;
        }
        active.sync_data()?;
        if dir_dirty {
            segment::sync_dir(&sh.dir)?;
        }
        // Only now may index entries for this data reach the file: a persisted entry must
        // point at durable data (recovery starts from it).
        if !entries.is_empty() {
            let mut buf = Vec::with_capacity(entries.len() * index::ENTRY_LEN);
            index::encode_entries(&entries, &mut buf);
            use std::os::unix::fs::FileExt;
            idx_file.write_all_at(&buf, (first_entry * index::ENTRY_LEN) as u64)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let reason = format!("fsync failed: {e}");
        sh.poison(reason.clone());
        return Err(reason);
    }
    let always = sh.config.fsync == FsyncPolicy::Always;
    sh.progress.send_modify(|p| {
        p.durable = p.durable.max(target);
        if always && target > p.visible {
            p.visible = target;
            p.visible_ts = ts;
        }
    });
    Ok(())
}

/// Waits (group commit) until offsets below `target` are durable.
pub(crate) async fn wait_durable(sh: &Arc<LogShared>, target: u64) -> Result<(), AppendError> {
    let mut rx = sh.progress.subscribe();
    loop {
        {
            let p = *rx.borrow_and_update();
            if p.durable >= target {
                return Ok(());
            }
            if let Some(reason) = sh.poisoned_reason() {
                return Err(AppendError::Poisoned {
                    log: sh.name.clone(),
                    reason: reason.to_string(),
                });
            }
            if sh.deleted.load(Ordering::Acquire) {
                return Err(AppendError::Deleted(sh.name.clone()));
            }
        }
        let lead = {
            let mut running = sh.sync_running.lock();
            !std::mem::replace(&mut *running, true)
        };
        if lead {
            // The job owns its Arc: dropping this future does not strand waiters.
            let job = Arc::clone(sh);
            let queued = sh.committer.as_ref().is_some_and(|c| c.submit(&job));
            if !queued {
                // The store was dropped (its committer stopped) while this handle lives on.
                match tokio::runtime::Handle::try_current() {
                    Ok(h) => drop(h.spawn_blocking(move || run_job(&job))),
                    Err(_) => run_job(&job),
                }
            }
        }
        if rx.changed().await.is_err() {
            return Err(AppendError::Deleted(sh.name.clone()));
        }
    }
}

/// One group-commit job: sync, then clear `sync_running` and wake the waiters (under the flag
/// lock: see the no-lost-wake-up invariant above).
fn run_job(sh: &LogShared) {
    let _ = sync_once(sh);
    let mut running = sh.sync_running.lock();
    *running = false;
    sh.progress.send_modify(|_| {});
}

/// The group-commit thread of a store under `Always`: runs queued jobs in order.
pub(crate) struct Committer {
    queue: Mutex<CommitQueue>,
    wake: Condvar,
}

#[derive(Default)]
struct CommitQueue {
    jobs: VecDeque<Arc<LogShared>>,
    /// Threads waiting on `wake` (only then does `submit` need to notify).
    idle: usize,
    stopped: bool,
}

impl Committer {
    /// Starts `threads` threads; they run until [`Committer::stop`].
    pub(crate) fn start(threads: usize) -> std::io::Result<Arc<Committer>> {
        let committer = Arc::new(Committer {
            queue: Mutex::new(CommitQueue::default()),
            wake: Condvar::new(),
        });
        for _ in 0..threads.max(1) {
            let worker = Arc::clone(&committer);
            std::thread::Builder::new()
                .name("nagare-log-commit".into())
                .spawn(move || worker.run())?;
        }
        Ok(committer)
    }

    /// Queues a job; false once stopped (the caller runs the job itself).
    fn submit(&self, log: &Arc<LogShared>) -> bool {
        let mut q = self.queue.lock();
        if q.stopped {
            return false;
        }
        q.jobs.push_back(Arc::clone(log));
        if q.idle > 0 {
            q.idle -= 1;
            self.wake.notify_one();
        }
        true
    }

    /// Lets the thread finish the queued jobs and exit; later submits are refused.
    pub(crate) fn stop(&self) {
        let mut q = self.queue.lock();
        q.stopped = true;
        self.wake.notify_all();
    }

    fn run(&self) {
        loop {
            let job = {
                let mut q = self.queue.lock();
                loop {
                    if let Some(job) = q.jobs.pop_front() {
                        break job;
                    }
                    if q.stopped {
                        return;
                    }
                    // `submit` decrements `idle` for the thread it wakes (parking_lot's
                    // condvar has no spurious wake-ups; `stop` wakes everyone to exit).
                    q.idle += 1;
                    self.wake.wait(&mut q);
                }
            };
            run_job(&job);
        }
    }
}

/// Syncs logs on up to 4 threads (a small, bounded pool; never one thread per log).
pub(crate) fn sync_many(logs: &[Arc<LogShared>]) {
    if logs.len() <= 1 {
        for l in logs {
            let _ = sync_once(l);
        }
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = logs.len().min(4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(l) = logs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let _ = sync_once(l);
                }
            });
        }
    });
}

/// The one flusher thread of a store under `Interval(d)`: every `d`, sync the logs that were
/// written since their last sync. Exits when the store is dropped.
pub(crate) fn spawn_flusher(
    logs: Weak<RwLock<HashMap<String, Log>>>,
    every: Duration,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("nagare-log-flusher".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                let Some(map) = logs.upgrade() else { break };
                let dirty: Vec<Arc<LogShared>> = map
                    .read()
                    .values()
                    .filter(|l| l.shared.dirty.swap(false, Ordering::AcqRel))
                    .map(|l| Arc::clone(&l.shared))
                    .collect();
                drop(map);
                sync_many(&dirty);
            }
        })
        .map(drop)
}
