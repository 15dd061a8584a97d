//! Persisted metadata: streams, shards, tags and the iterator key, kept in one JSON document
//! replaced atomically (write temp file, fsync, rename, fsync directory). Control-plane
//! changes are rare, so rewriting the whole document is cheap and keeps recovery trivial:
//! after a crash the file is either the old or the new version, never a mix.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped when the document's meaning changes; older versions are refused, not guessed at.
pub const META_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamStatus {
    #[serde(rename = "CREATING")]
    Creating,
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "UPDATING")]
    Updating,
    #[serde(rename = "DELETING")]
    Deleting,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
            StreamStatus::Deleting => "DELETING",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamMode {
    #[serde(rename = "PROVISIONED")]
    Provisioned,
    #[serde(rename = "ON_DEMAND")]
    OnDemand,
}

impl StreamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Provisioned => "PROVISIONED",
            StreamMode::OnDemand => "ON_DEMAND",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub index: u32,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    /// Inclusive hash range, as decimal strings (JSON has no u128).
    pub start_hash: String,
    pub end_hash: String,
    pub created_ms: i64,
    /// Set when the shard was closed by a split or merge.
    pub closed_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub name: String,
    pub tag: u32,
    pub created_ms: i64,
    pub status: StreamStatus,
    pub mode: StreamMode,
    pub retention_hours: u32,
    pub max_record_kib: u32,
    pub shards: Vec<ShardMeta>,
    pub tags: BTreeMap<String, String>,
    /// Shard indices are never reused, even after closed shards expire.
    #[serde(default)]
    pub next_shard_index: u32,
    /// `Some(key id)` while server-side encryption is on.
    #[serde(default)]
    pub encryption_key: Option<String>,
    /// Enabled shard-level metrics (EnableEnhancedMonitoring), in AWS's enum order.
    #[serde(default)]
    pub shard_level_metrics: Vec<String>,
    #[serde(default)]
    pub warm_throughput_mibps: Option<u32>,
    /// The resource policy document, verbatim.
    #[serde(default)]
    pub policy: Option<String>,
    /// When UpdateShardCount ran (for the 10-per-24-hours rule).
    #[serde(default)]
    pub scaling_events_ms: Vec<i64>,
    /// When the stream mode was switched (for the twice-per-24-hours rule).
    #[serde(default)]
    pub mode_switches_ms: Vec<i64>,
    /// Registered enhanced fan-out consumers, in registration order.
    #[serde(default)]
    pub consumers: Vec<ConsumerMeta>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsumerStatus {
    #[serde(rename = "CREATING")]
    Creating,
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "DELETING")]
    Deleting,
}

impl ConsumerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerStatus::Creating => "CREATING",
            ConsumerStatus::Active => "ACTIVE",
            ConsumerStatus::Deleting => "DELETING",
        }
    }
}

/// An enhanced fan-out consumer of a stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMeta {
    pub name: String,
    pub created_ms: i64,
    pub status: ConsumerStatus,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetaDoc {
    pub version: u32,
    /// HMAC key for shard iterators, hex. Persisted so iterators survive restarts.
    pub iterator_key: String,
    pub streams: BTreeMap<String, StreamMeta>,
    /// UpdateAccountSettings' MinimumThroughputBillingCommitment, if ever set.
    #[serde(default)]
    pub billing_commitment: Option<BillingCommitment>,
}

/// The account's MinimumThroughputBillingCommitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingCommitment {
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
}

/// Where the document lives.
#[derive(Debug)]
pub struct MetaFile {
    path: PathBuf,
}

impl MetaFile {
    pub fn new(dir: &Path) -> Self {
        MetaFile {
            path: dir.join("meta.json"),
        }
    }

    pub fn load(&self) -> std::io::Result<Option<MetaDoc>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let doc: MetaDoc = serde_json::from_slice(&bytes)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                if doc.version != META_VERSION {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("metadata version {} is not {META_VERSION}", doc.version),
                    ));
                }
                Ok(Some(doc))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn save(&self, doc: &MetaDoc) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(doc).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("json.tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}
