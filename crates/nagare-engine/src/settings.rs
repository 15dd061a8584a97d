//! Stream and account settings: stream mode, maximum record size, server-side encryption,
//! enhanced (shard-level) monitoring, warm throughput, resource policies and the account's
//! minimum throughput billing commitment. Changes that AWS applies asynchronously put the
//! stream in UPDATING for the configured update delay.

use crate::error::{InvalidArgument, LimitExceeded, ResourceNotFound, SettingsError};
use crate::meta::{BillingCommitment, StreamMode};
use crate::metrics::SHARD_LEVEL_METRICS;
use crate::{Engine, Stream};

const DAY_MS: i64 = 86_400_000;
/// AWS allows two stream-mode switches per rolling 24 hours.
const MAX_MODE_SWITCHES_PER_DAY: usize = 2;
/// Warm throughput may be set up to 10 GiB/s.
const MAX_WARM_THROUGHPUT_MIBPS: u32 = 10_240;

/// Before and after of an Enable/DisableEnhancedMonitoring call.
pub struct MonitoringChange {
    pub stream: String,
    pub current: Vec<String>,
    pub desired: Vec<String>,
}

/// Warm throughput after UpdateStreamWarmThroughput.
pub struct WarmThroughput {
    pub stream: String,
    pub target_mibps: u32,
    pub current_mibps: u32,
}

impl Engine {
    /// Applies `change` to an ACTIVE stream's metadata and publishes it through UPDATING.
    fn update_settings(
        &self,
        stream: &Stream,
        change: impl FnOnce(&mut crate::meta::StreamMeta) -> Result<(), SettingsError>,
    ) -> Result<(), SettingsError> {
        let _guard = self.inner.control.lock();
        let view = stream.view();
        self.require_active(&view.meta.name, &view)?;
        let mut meta = view.meta.clone();
        change(&mut meta)?;
        self.publish_update(stream, &view, meta, [])?;
        Ok(())
    }

    pub fn update_stream_mode(&self, arn: &str, mode: StreamMode) -> Result<(), SettingsError> {
        let stream = self.lookup(None, Some(arn))?;
        let now = self.now_ms();
        let account = self.account().to_owned();
        self.update_settings(&stream, |meta| {
            if meta.mode == mode {
                return Err(InvalidArgument(format!(
                    "Stream {} under account {account} is already in {} mode.",
                    meta.name,
                    mode.as_str()
                ))
                .into());
            }
            meta.mode_switches_ms.retain(|t| now - *t < DAY_MS);
            if meta.mode_switches_ms.len() >= MAX_MODE_SWITCHES_PER_DAY {
                return Err(LimitExceeded(format!(
                    "Stream {} under account {account} has already switched capacity mode {MAX_MODE_SWITCHES_PER_DAY} times in the last 24 hours.",
                    meta.name
                ))
                .into());
            }
            meta.mode_switches_ms.push(now);
            meta.mode = mode;
            if mode == StreamMode::Provisioned {
                meta.warm_throughput_mibps = None;
            }
            Ok(())
        })
    }

    pub fn update_max_record_size(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        kib: u32,
    ) -> Result<(), SettingsError> {
        let stream = self.lookup(name, arn)?;
        self.update_settings(&stream, |meta| {
            meta.max_record_kib = kib;
            Ok(())
        })
    }

    /// StartStreamEncryption (`Some(key)`) or StopStreamEncryption (`None`).
    pub fn set_encryption(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        key: Option<&str>,
    ) -> Result<(), SettingsError> {
        let stream = self.lookup(name, arn)?;
        self.update_settings(&stream, |meta| {
            meta.encryption_key = key.map(str::to_owned);
            Ok(())
        })
    }

    /// Enable (`enable`) or disable shard-level metrics; `ALL` names all seven.
    pub fn set_enhanced_monitoring(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        names: &[String],
        enable: bool,
    ) -> Result<MonitoringChange, SettingsError> {
        let stream = self.lookup(name, arn)?;
        let all = names.iter().any(|n| n == "ALL");
        let chosen = |m: &str| all || names.iter().any(|n| n == m);
        let mut change = None;
        self.update_settings(&stream, |meta| {
            let current = meta.shard_level_metrics.clone();
            let desired: Vec<String> = SHARD_LEVEL_METRICS
                .iter()
                .filter(|m| {
                    if enable {
                        current.iter().any(|c| c == *m) || chosen(m)
                    } else {
                        current.iter().any(|c| c == *m) && !chosen(m)
                    }
                })
                .map(|m| (*m).to_owned())
                .collect();
            meta.shard_level_metrics = desired.clone();
            change = Some(MonitoringChange {
                stream: meta.name.clone(),
                current,
                desired,
            });
            Ok(())
        })?;
        change.ok_or_else(|| crate::error::StorageFailure("monitoring change lost".into()).into())
    }

    pub fn update_warm_throughput(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        mibps: u32,
    ) -> Result<WarmThroughput, SettingsError> {
        let stream = self.lookup(name, arn)?;
        if mibps > MAX_WARM_THROUGHPUT_MIBPS {
            return Err(InvalidArgument(format!(
                "WarmThroughputMiBps {mibps} exceeds the maximum of {MAX_WARM_THROUGHPUT_MIBPS}."
            ))
            .into());
        }
        let committed = self
            .inner
            .billing_commitment
            .read()
            .as_ref()
            .is_some_and(|c| c.status == "ENABLED");
        let mut out = None;
        self.update_settings(&stream, |meta| {
            if meta.mode != StreamMode::OnDemand {
                return Err(InvalidArgument(format!(
                    "Warm throughput can only be configured for streams in ON_DEMAND mode; stream {} is in PROVISIONED mode.",
                    meta.name
                ))
                .into());
            }
            if !committed {
                return Err(InvalidArgument(
                    "Warm throughput requires the account's MinimumThroughputBillingCommitment to be ENABLED.".into(),
                )
                .into());
            }
            meta.warm_throughput_mibps = Some(mibps);
            out = Some(WarmThroughput { stream: meta.name.clone(), target_mibps: mibps, current_mibps: mibps });
            Ok(())
        })?;
        out.ok_or_else(|| crate::error::StorageFailure("warm throughput change lost".into()).into())
    }

    pub fn describe_account_settings(&self) -> Option<BillingCommitment> {
        self.inner.billing_commitment.read().clone()
    }

    pub fn update_account_settings(
        &self,
        status: &str,
    ) -> Result<BillingCommitment, SettingsError> {
        let _guard = self.inner.control.lock();
        let now = self.now_ms();
        let previous = self.inner.billing_commitment.read().clone();
        let next = match status {
            "ENABLED" => BillingCommitment {
                status: "ENABLED".into(),
                started_ms: previous
                    .as_ref()
                    .filter(|p| p.status == "ENABLED")
                    .and_then(|p| p.started_ms)
                    .or(Some(now)),
                ended_ms: None,
            },
            _ => BillingCommitment {
                status: "DISABLED".into(),
                started_ms: previous.as_ref().and_then(|p| p.started_ms),
                ended_ms: Some(now),
            },
        };
        *self.inner.billing_commitment.write() = Some(next.clone());
        self.persist()?;
        Ok(next)
    }

    pub fn put_resource_policy(&self, arn: &str, policy: &str) -> Result<(), SettingsError> {
        if serde_json::from_str::<serde_json::Value>(policy).map_or(true, |v| !v.is_object()) {
            return Err(
                InvalidArgument("Policy is not a valid JSON policy document.".into()).into(),
            );
        }
        let stream = self.stream_by_resource_arn(arn)?;
        self.set_policy(&stream, Some(policy.to_owned()))
    }

    pub fn get_resource_policy(&self, arn: &str) -> Result<String, SettingsError> {
        let stream = self.stream_by_resource_arn(arn)?;
        Ok(stream
            .view()
            .meta
            .policy
            .clone()
            .unwrap_or_else(|| "{}".to_owned()))
    }

    pub fn delete_resource_policy(&self, arn: &str) -> Result<(), SettingsError> {
        let stream = self.stream_by_resource_arn(arn)?;
        if stream.view().meta.policy.is_none() {
            return Err(ResourceNotFound(format!(
                "No resource policy found for resource ARN {arn}."
            ))
            .into());
        }
        self.set_policy(&stream, None)
    }

    /// Policies take effect at once (no UPDATING).
    fn set_policy(&self, stream: &Stream, policy: Option<String>) -> Result<(), SettingsError> {
        let _guard = self.inner.control.lock();
        let view = stream.view();
        let mut meta = view.meta.clone();
        meta.policy = policy;
        stream.replace(view.with_meta(meta));
        self.persist()?;
        Ok(())
    }
}
