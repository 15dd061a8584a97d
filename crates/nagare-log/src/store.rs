//! [`LogStore`]: a directory of logs, one sub-directory per log.
//!
//! Layout: `<root>/<log name>/<base:020>.{log,idx}`. Deleting a log first renames its
//! directory to `~deleted-<name>-<nanos>` (`~` cannot appear in a log name), then removes it;
//! `open` finishes any such interrupted deletion.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use crate::error::{LogError, OpenError};
use crate::log::{Log, LogShared, LogState, Progress};
use crate::sync::Committer;
use crate::{FsyncPolicy, LogConfig, RecoveryEvent, recovery, segment, sync};

/// A directory of logs. Cheap to clone (an `Arc`); `Send + Sync`.
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    root: PathBuf,
    config: Arc<LogConfig>,
    /// Name → log. A `parking_lot::RwLock` (not tokio's): held briefly, never across `.await`.
    /// Behind its own `Arc` so the interval flusher can hold a `Weak` to it.
    logs: Arc<RwLock<HashMap<String, Log>>>,
    /// What `open` repaired or found damaged, plus corruption found later by reads.
    events: Arc<Mutex<Vec<RecoveryEvent>>>,
    /// Group-commit thread under `Always`.
    committer: Option<Arc<Committer>>,
}

impl Drop for StoreInner {
    fn drop(&mut self) {
        if let Some(c) = &self.committer {
            c.stop();
        }
        let logs: Vec<Log> = self.logs.read().values().cloned().collect();
        if self.config.fsync != FsyncPolicy::Never {
            let shared: Vec<_> = logs.iter().map(|l| Arc::clone(&l.shared)).collect();
            sync::sync_many(&shared);
        }
        for l in logs {
            l.shared.close();
        }
    }
}

/// A log name: 1..=200 of `[A-Za-z0-9_.-]`, not `.` or `..` (they are directory names).
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=200).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && name != "."
        && name != ".."
}

impl LogStore {
    /// Opens (creating if missing) the store at `dir` and recovers every log in it. Damage
    /// is repaired or reported in [`LogStore::recovery_report`]; it fails only on I/O errors
    /// that prevent reading the directory.
    pub fn open(dir: &Path, config: LogConfig) -> Result<LogStore, OpenError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| OpenError::Io { path, source }
        };
        let config = Arc::new(config.normalized());
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !entry.file_type().map_err(io(&path))?.is_dir() {
                continue;
            }
            if name.starts_with('~') {
                std::fs::remove_dir_all(&path).map_err(io(&path))?;
            } else if valid_name(&name) {
                names.push(name);
            } else {
                tracing::warn!(path = %path.display(), "ignoring directory that is not a log");
            }
        }
        names.sort();
        let events = Arc::new(Mutex::new(Vec::new()));
        // Recover logs on a few threads: each is independent and mostly waits on I/O.
        let recovered = recover_all(dir, &names, &config)
            .map_err(|(p, e)| OpenError::Io { path: p, source: e })?;
        let committer = match config.fsync {
            FsyncPolicy::Always => Some(Committer::start(config.commit_threads).map_err(io(dir))?),
            _ => None,
        };
        let mut logs = HashMap::new();
        for (name, state, evs) in recovered {
            events.lock().extend(evs);
            let log = new_log(dir, &name, &config, state, &events, &committer);
            logs.insert(name, log);
        }
        let logs = Arc::new(RwLock::new(logs));
        if let FsyncPolicy::Interval(every) = config.fsync {
            sync::spawn_flusher(Arc::downgrade(&logs), every).map_err(io(dir))?;
        }
        Ok(LogStore {
            inner: Arc::new(StoreInner {
                root: dir.to_path_buf(),
                config,
                logs,
                events,
                committer,
            }),
        })
    }

    /// Creates an empty log. Fails with `AlreadyExists` if it exists, `InvalidName` unless
    /// the name is 1-200 characters of `[A-Za-z0-9_.-]`.
    pub fn create_log(&self, name: &str) -> Result<Log, LogError> {
        if !valid_name(name) {
            return Err(LogError::InvalidName(name.to_string()));
        }
        let inner = &self.inner;
        let io = |source| LogError::Io {
            log: name.to_string(),
            source,
        };
        let mut logs = inner.logs.write();
        if logs.contains_key(name) {
            return Err(LogError::AlreadyExists(name.to_string()));
        }
        let dir = inner.root.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(LogError::AlreadyExists(name.to_string()));
            }
            Err(e) => return Err(io(e)),
        }
        let active = crate::log::new_active_segment(&dir, 0).map_err(io)?;
        if inner.config.fsync != FsyncPolicy::Never {
            segment::sync_dir(&dir).map_err(io)?;
            segment::sync_dir(&inner.root).map_err(io)?;
        }
        let state = LogState {
            start: 0,
            next: 0,
            last_ts: None,
            sealed: Default::default(),
            active,
            buf: Vec::new(),
            pending_sync: Vec::new(),
            dir_dirty: false,
        };
        let log = new_log(
            &inner.root,
            name,
            &inner.config,
            state,
            &inner.events,
            &inner.committer,
        );
        logs.insert(name.to_string(), log.clone());
        Ok(log)
    }

    pub fn log(&self, name: &str) -> Option<Log> {
        self.inner.logs.read().get(name).cloned()
    }

    /// Names of all logs, sorted.
    pub fn log_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.logs.read().keys().cloned().collect();
        names.sort();
        names
    }

    /// Deletes a log and its files; its waiters wake and its handles fail with `Deleted`.
    pub fn delete_log(&self, name: &str) -> Result<(), LogError> {
        let inner = &self.inner;
        let io = |source| LogError::Io {
            log: name.to_string(),
            source,
        };
        let log = inner
            .logs
            .write()
            .remove(name)
            .ok_or_else(|| LogError::NotFound(name.to_string()))?;
        let sh = &log.shared;
        {
            // Under the state lock so no append is mid-write when the flag flips.
            let _st = sh.state.lock();
            sh.deleted.store(true, Ordering::Release);
        }
        sh.close();
        *sh.reader_cache.lock() = None;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let tomb = inner.root.join(format!("~deleted-{name}-{nanos}"));
        std::fs::rename(&sh.dir, &tomb).map_err(io)?;
        if inner.config.fsync != FsyncPolicy::Never {
            segment::sync_dir(&inner.root).map_err(io)?;
        }
        std::fs::remove_dir_all(&tomb).map_err(io)?;
        Ok(())
    }

    /// What `open` truncated or found corrupt, and corruption found by reads since.
    pub fn recovery_report(&self) -> Vec<RecoveryEvent> {
        self.inner.events.lock().clone()
    }

    /// Makes every log's written data durable (graceful shutdown). Fails on the first
    /// poisoned log (after trying all).
    pub fn sync_all(&self) -> Result<(), LogError> {
        let logs: Vec<Log> = self.inner.logs.read().values().cloned().collect();
        let mut first_err = None;
        for l in logs {
            if let Err(e) = l.sync() {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// The store's root directory.
    pub fn path(&self) -> &Path {
        &self.inner.root
    }
}

fn new_log(
    root: &Path,
    name: &str,
    config: &Arc<LogConfig>,
    state: LogState,
    events: &Arc<Mutex<Vec<RecoveryEvent>>>,
    committer: &Option<Arc<Committer>>,
) -> Log {
    let progress = Progress {
        visible: state.next,
        visible_ts: state.last_ts,
        durable: state.next,
        closed: false,
    };
    Log {
        shared: Arc::new(LogShared {
            name: name.to_string(),
            dir: root.join(name),
            config: Arc::clone(config),
            state: Mutex::new(state),
            progress: watch::Sender::new(progress),
            sync_running: Mutex::new(false),
            committer: committer.clone(),
            sync_job: Mutex::new(()),
            poison: OnceLock::new(),
            deleted: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            fail_next_sync: AtomicBool::new(false),
            events: Arc::clone(events),
            reader_cache: Mutex::new(None),
        }),
    }
}

type Recovered = (String, LogState, Vec<RecoveryEvent>);

fn recover_all(
    root: &Path,
    names: &[String],
    config: &LogConfig,
) -> Result<Vec<Recovered>, (PathBuf, std::io::Error)> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out = Mutex::new(Vec::with_capacity(names.len()));
    let failed = Mutex::new(None);
    let workers = names.len().clamp(1, 4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let dir = root.join(name);
                    match recovery::recover_log(&dir, name, config) {
                        Ok((state, evs)) => out.lock().push((name.clone(), state, evs)),
                        Err(e) => {
                            failed.lock().get_or_insert((dir, e));
                        }
                    }
                }
            });
        }
    });
    match failed.into_inner() {
        Some(f) => Err(f),
        None => Ok(out.into_inner()),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn handles_are_send_sync() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<super::LogStore>();
        assert_send_sync::<crate::Log>();
    }

    #[test]
    fn names() {
        assert!(valid_name("shard-000001.x_y"));
        assert!(valid_name(&"a".repeat(200)));
        assert!(!valid_name(&"a".repeat(201)));
        assert!(!valid_name(""));
        assert!(!valid_name("."));
        assert!(!valid_name(".."));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("~x"));
    }
}
