//! What the pipeline does with answers: ListShards (a new shard map, records routed again)
//! and PutRecords (acknowledgements, partial-failure retries with backoff, expiry).

use super::record::{Pending, SentBatch, Users};
use super::stream::{Retry, ShardState, StreamState};
use super::{Dispatcher, EXPIRED, WRONG_SHARD};
use crate::backend::{EntryResult, RequestError, THROTTLED, is_retryable_code};
use crate::error::{ErrorInfo, PutError};
use crate::metrics as m;
use crate::producer::PutOutcome;
use crate::shard_map::{ShardMap, ShardRange};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

impl Dispatcher {
    pub(super) fn on_shards(
        &mut self,
        s: &mut StreamState,
        result: Result<Vec<ShardRange>, RequestError>,
        now: Instant,
    ) {
        s.map_loading = false;
        let shards = match result {
            Ok(shards) => shards,
            Err(e) => {
                tracing::warn!(stream = %s.name, error = %e.error, "ListShards failed; records go unaggregated until it succeeds");
                s.map_wanted = true;
                // Waiting records go out by the map there is rather than wait indefinitely.
                for r in std::mem::take(&mut s.awaiting_map) {
                    s.add(&self.config, r, now);
                }
                return;
            }
        };
        let mut old: HashMap<Arc<str>, ShardState> = std::mem::take(&mut s.shards)
            .into_iter()
            .map(|st| (Arc::clone(&st.id), st))
            .collect();
        s.map = ShardMap::new(shards);
        s.loaded = true;
        s.shards = s
            .map
            .shards()
            .iter()
            .map(|r| {
                old.remove(&r.shard_id)
                    .unwrap_or_else(|| ShardState::new(Arc::clone(&r.shard_id), &self.config, now))
            })
            .collect();
        // Records buffered for shards that are gone, and unpredicted ones, are routed again.
        let mut orphans: Vec<Pending> = Vec::new();
        for (_, st) in old {
            orphans.extend(st.open);
            for kr in st.ready {
                s.ready_count -= 1;
                s.ready_bytes -= kr.size;
                orphans.extend(kr.users);
            }
        }
        for kr in std::mem::take(&mut s.unpredicted) {
            orphans.extend(kr.users);
        }
        orphans.append(&mut s.awaiting_map);
        s.unpredicted_bytes = 0;
        for r in orphans {
            s.add(&self.config, r, now);
        }
    }

    pub(super) fn on_put_done(
        &mut self,
        s: &mut StreamState,
        mut batch: SentBatch,
        result: Result<Vec<EntryResult>, RequestError>,
        elapsed: Duration,
        now: Instant,
    ) {
        self.on_results(s, &mut batch, result, elapsed, now);
        batch.records.clear();
        batch.keys.clear();
        if self.spare_batches.len() < self.config.max_connections {
            self.spare_batches.push(batch);
        }
    }

    fn on_results(
        &mut self,
        s: &mut StreamState,
        batch: &mut SentBatch,
        result: Result<Vec<EntryResult>, RequestError>,
        elapsed: Duration,
        now: Instant,
    ) {
        let labels = [(m::STREAM_NAME, s.name.to_string())];
        metrics::histogram!(m::REQUEST_TIME, &labels).record(elapsed.as_secs_f64() * 1e3);
        let jitter = rand::random::<f64>();
        let results = match result {
            Ok(results) => results,
            Err(e) => {
                self.count_error(s, &e.error.code, 1);
                for mut sr in batch.records.drain(..) {
                    SentBatch::restore_key(&batch.keys, &sr.key, &mut sr.users);
                    for r in sr.users {
                        self.retry_or_fail(s, r, &e.error, e.retryable, jitter, now);
                    }
                }
                return;
            }
        };
        let per_kinesis = metrics::histogram!(m::USER_RECORDS_PER_KINESIS_RECORD, &labels);
        let retries = metrics::histogram!(m::RETRIES_PER_RECORD, &labels);
        let (mut users, mut user_bytes, mut kinesis, mut kinesis_bytes) = (0u64, 0u64, 0u64, 0u64);
        for (mut sr, res) in batch.records.drain(..).zip(results) {
            match res {
                EntryResult::Ok {
                    shard_id,
                    sequence_number,
                } => {
                    let wrong = sr.predicted.as_deref().is_some_and(|p| p != &*shard_id);
                    // The predicted shard's id is usually the same string: share it.
                    let shard_id = match &sr.predicted {
                        Some(p) if !wrong => Arc::clone(p),
                        _ => shard_id,
                    };
                    if wrong {
                        // The shard map is stale: refresh it.
                        s.map_wanted = true;
                    }
                    let aggregated = matches!(sr.users, Users::Many(_));
                    if wrong && aggregated {
                        // Its user records were grouped by a stale map, so some may be
                        // outside this shard's range, where KCL drops the whole aggregate.
                        // Send them again, re-grouped (the KPL does the same).
                        self.count_error(s, WRONG_SHARD, 1);
                        let error = ErrorInfo {
                            code: WRONG_SHARD.to_owned(),
                            message: format!(
                                "aggregate predicted for {} landed on {shard_id}",
                                sr.predicted.as_deref().unwrap_or_default()
                            ),
                        };
                        for r in sr.users {
                            self.retry_or_fail(s, r, &error, true, jitter, now);
                        }
                        continue;
                    }
                    kinesis += 1;
                    kinesis_bytes += sr.data_len as u64;
                    per_kinesis.record(sr.users.len() as f64);
                    for (i, r) in sr.users.into_iter().enumerate() {
                        users += 1;
                        user_bytes += r.data.len() as u64;
                        retries.record(f64::from(r.attempts.saturating_sub(1)));
                        let outcome = PutOutcome {
                            shard_id: Arc::clone(&shard_id),
                            sequence_number: Arc::clone(&sequence_number),
                            sub_sequence: if aggregated { i as u64 } else { 0 },
                            attempts: r.attempts,
                        };
                        self.finish(s, r, Ok(outcome));
                    }
                }
                EntryResult::Failed(error) => {
                    self.count_error(s, &error.code, 1);
                    let retryable = is_retryable_code(&error.code);
                    SentBatch::restore_key(&batch.keys, &sr.key, &mut sr.users);
                    for r in sr.users {
                        self.retry_or_fail(s, r, &error, retryable, jitter, now);
                    }
                }
            }
        }
        if kinesis > 0 {
            metrics::counter!(m::USER_RECORDS_PUT, &labels).increment(users);
            metrics::counter!(m::USER_RECORDS_DATA_PUT, &labels).increment(user_bytes);
            metrics::counter!(m::KINESIS_RECORDS_PUT, &labels).increment(kinesis);
            metrics::counter!(m::KINESIS_RECORDS_DATA_PUT, &labels).increment(kinesis_bytes);
        }
    }

    pub(super) fn count_error(&self, s: &StreamState, code: &str, n: u64) {
        let stream = s.name.to_string();
        metrics::counter!(m::ERRORS_BY_CODE, m::STREAM_NAME => stream.clone(), m::ERROR_CODE => code.to_owned())
            .increment(n);
        metrics::counter!(m::ALL_ERRORS, m::STREAM_NAME => stream).increment(n);
    }

    /// Backoff before the next attempt of a record that failed `attempts` times: doubling
    /// from the minimum to the maximum, then scaled into [d/2, d] by `jitter` (0..1). One
    /// jitter is drawn per response, so the records that failed together are retried together
    /// (and aggregated together again) while separate producers and requests spread out.
    pub(super) fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let exp = attempts.saturating_sub(1).min(20);
        let d = self
            .config
            .min_backoff
            .saturating_mul(1 << exp)
            .min(self.config.max_backoff);
        let half = d / 2;
        half + half.mul_f64(jitter)
    }

    pub(super) fn retry_or_fail(
        &mut self,
        s: &mut StreamState,
        mut r: Pending,
        error: &ErrorInfo,
        retryable: bool,
        jitter: f64,
        now: Instant,
    ) {
        r.last_error = Some(Box::new(error.clone()));
        if error.code == WRONG_SHARD {
            // Resent once the refreshed shard map is in (see `on_shards`).
            s.awaiting_map.push(r);
        } else if !retryable {
            let attempts = r.attempts;
            self.finish(
                s,
                r,
                Err(PutError::Rejected {
                    attempts,
                    error: error.clone(),
                }),
            );
        } else if error.code == THROTTLED && self.config.fail_if_throttled {
            let attempts = r.attempts;
            self.finish(
                s,
                r,
                Err(PutError::Throttled {
                    attempts,
                    error: error.clone(),
                }),
            );
        } else {
            let at = now + self.backoff(r.attempts, jitter);
            if at >= r.arrived + self.config.record_ttl {
                // The next attempt would come after the TTL.
                self.expire(s, r);
            } else {
                self.retry_seq += 1;
                s.retries.push(Retry {
                    at,
                    seq: self.retry_seq,
                    record: r,
                });
            }
        }
    }

    pub(super) fn expire(&mut self, s: &mut StreamState, mut r: Pending) {
        let labels = [(m::STREAM_NAME, s.name.to_string())];
        metrics::counter!(m::USER_RECORD_EXPIRED, &labels).increment(1);
        self.count_error(s, EXPIRED, 1);
        let attempts = r.attempts;
        let last_error = r.last_error.take().map(|e| *e);
        self.finish(
            s,
            r,
            Err(PutError::Expired {
                attempts,
                last_error,
            }),
        );
    }

    pub(super) fn finish(
        &mut self,
        s: &mut StreamState,
        r: Pending,
        result: Result<PutOutcome, PutError>,
    ) {
        self.released += r.permits as usize;
        self.outstanding -= 1;
        s.outstanding -= 1;
        if let Some(e) = self.epochs.iter_mut().find(|e| e.0 == r.epoch) {
            e.1 -= 1;
        }
        self.completions.push(r.tx, result);
    }
}
