//! The lease table in DynamoDB, written the way KCL 2.x writes it (spec §6.1).
//!
//! Conditions use the legacy `Expected` map and updates the legacy `AttributeUpdates` map, not
//! condition/update expressions, so a table can be shared with KCL workers and so the requests
//! match what DynamoDB-compatible test servers implement.
//!
//! KCL sends `ReturnValuesOnConditionCheckFailure=ALL_OLD` on renew to tell a spurious failure
//! (the SDK retried a renewal that had in fact succeeded) from a lost lease without a second
//! call. dynalite 4.0.0 does not implement that parameter (its `updateItem` validation has no
//! such field and failures never carry an item), so this store does what KCL 2.x did before
//! the parameter existed: after a failed renew it reads the row back and accepts it when the
//! owner is unchanged and the counter is exactly one higher.
//!
//! KCL 3.x additions are not written (`throughputKBps`, `entityType`, the
//! `checkpointOwner` condition on renew); take and evict delete `checkpointOwner` as KCL does,
//! so a hand-off marker left in a shared table cannot pin a lease.

use super::{Lease, LeaseError, LeaseStore};
use crate::sequence::ExtendedSequenceNumber;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeDefinition, AttributeValue, AttributeValueUpdate, BillingMode,
    ExpectedAttributeValue, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};
use nagare_types::{HashKey, HashKeyRange};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

const LEASE_KEY: &str = "leaseKey";
const LEASE_OWNER: &str = "leaseOwner";
const LEASE_COUNTER: &str = "leaseCounter";
const CHECKPOINT: &str = "checkpoint";
const CHECKPOINT_SUB: &str = "checkpointSubSequenceNumber";
const PENDING_CHECKPOINT: &str = "pendingCheckpoint";
const PENDING_CHECKPOINT_SUB: &str = "pendingCheckpointSubSequenceNumber";
const PENDING_CHECKPOINT_STATE: &str = "pendingCheckpointState";
const OWNER_SWITCHES: &str = "ownerSwitchesSinceCheckpoint";
const PARENT_SHARD_ID: &str = "parentShardId";
const CHILD_SHARD_IDS: &str = "childShardIds";
const STARTING_HASH_KEY: &str = "startingHashKey";
const ENDING_HASH_KEY: &str = "endingHashKey";
/// KCL 3.x graceful hand-off marker; KCL deletes it on take and evict, so this store does too.
const CHECKPOINT_OWNER: &str = "checkpointOwner";

/// How long [`DynamoDbLeaseStore::initialize`] waits for the table to become `ACTIVE`.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// A [`LeaseStore`] backed by a DynamoDB table named after the application (KCL's layout:
/// hash key `leaseKey` (S), on-demand billing).
///
/// ```
/// use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
/// use nagare_consumer::{DynamoDbLeaseStore, LeaseStore};
///
/// let config = aws_sdk_dynamodb::Config::builder()
///     .behavior_version(BehaviorVersion::latest())
///     .region(Region::new("us-east-1"))
///     .credentials_provider(Credentials::new("AKID", "secret", None, None, "example"))
///     .endpoint_url("http://127.0.0.1:4567") // dynalite, DynamoDB Local, …
///     .build();
/// let store = DynamoDbLeaseStore::new(aws_sdk_dynamodb::Client::from_conf(config), "my-app")
///     .with_scan_page_size(100);
/// assert_eq!(store.table_name(), "my-app");
///
/// // Creates the table when missing, then lists the leases.
/// async fn leases(store: &DynamoDbLeaseStore) -> Result<usize, nagare_consumer::LeaseError> {
///     store.initialize().await?;
///     Ok(store.list().await?.len())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct DynamoDbLeaseStore {
    client: Client,
    table: String,
    scan_page_size: Option<i32>,
}

impl DynamoDbLeaseStore {
    /// A store for the table `table_name` (KCL uses the application name).
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        DynamoDbLeaseStore {
            client,
            table: table_name.into(),
            scan_page_size: None,
        }
    }

    /// Ask for at most `items` rows per Scan page (default: DynamoDB's 1 MB pages).
    pub fn with_scan_page_size(mut self, items: i32) -> Self {
        self.scan_page_size = Some(items.max(1));
        self
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    fn key(lease_key: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([(LEASE_KEY.to_owned(), s(lease_key))])
    }

    async fn table_status(&self) -> Result<Option<TableStatus>, LeaseError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => Ok(out.table().and_then(|t| t.table_status()).cloned()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(store_err("describe_table", e)),
        }
    }

    async fn create_table(&self) -> Result<(), LeaseError> {
        let attr = AttributeDefinition::builder()
            .attribute_name(LEASE_KEY)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| store_err_boxed("create_table", e))?;
        let key = KeySchemaElement::builder()
            .attribute_name(LEASE_KEY)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| store_err_boxed("create_table", e))?;
        match self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr)
            .key_schema(key)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Another worker created it first.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(store_err("create_table", e)),
        }
    }

    fn updates_for_checkpoint(lease: &Lease) -> HashMap<String, AttributeValueUpdate> {
        let mut u = HashMap::new();
        u.insert(LEASE_COUNTER.to_owned(), put(n(lease.lease_counter + 1)));
        u.insert(
            CHECKPOINT.to_owned(),
            put(s(lease.checkpoint.checkpoint_text())),
        );
        u.insert(
            CHECKPOINT_SUB.to_owned(),
            put(n(lease.checkpoint.sub_sequence())),
        );
        u.insert(OWNER_SWITCHES.to_owned(), put(n(0)));
        match &lease.pending_checkpoint {
            Some(p) => {
                u.insert(PENDING_CHECKPOINT.to_owned(), put(s(p.checkpoint_text())));
                u.insert(PENDING_CHECKPOINT_SUB.to_owned(), put(n(p.sub_sequence())));
            }
            None => {
                u.insert(PENDING_CHECKPOINT.to_owned(), delete());
                u.insert(PENDING_CHECKPOINT_SUB.to_owned(), delete());
            }
        }
        match &lease.pending_checkpoint_state {
            Some(state) => {
                u.insert(
                    PENDING_CHECKPOINT_STATE.to_owned(),
                    put(AttributeValue::B(Blob::new(state.clone()))),
                );
            }
            None => {
                u.insert(PENDING_CHECKPOINT_STATE.to_owned(), delete());
            }
        }
        if !lease.child_shard_ids.is_empty() {
            u.insert(CHILD_SHARD_IDS.to_owned(), put(ss(&lease.child_shard_ids)));
        }
        if let Some(range) = lease.hash_key_range {
            u.insert(
                STARTING_HASH_KEY.to_owned(),
                put(s(&range.start.to_string())),
            );
            u.insert(ENDING_HASH_KEY.to_owned(), put(s(&range.end.to_string())));
        }
        u
    }
}

#[async_trait]
impl LeaseStore for DynamoDbLeaseStore {
    async fn initialize(&self) -> Result<(), LeaseError> {
        if self.table_status().await?.is_none() {
            tracing::info!(table = %self.table, "creating lease table");
            self.create_table().await?;
        }
        let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
        loop {
            if self.table_status().await? == Some(TableStatus::Active) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(store_err_boxed(
                    "initialize",
                    format!(
                        "table {} not ACTIVE after {TABLE_ACTIVE_TIMEOUT:?}",
                        self.table
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn list(&self) -> Result<Vec<Lease>, LeaseError> {
        let mut leases = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            // Strongly consistent: a stale page could show a lease that was already deleted
            // at shard end and make the shard syncer hesitate; the extra read cost is small.
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_limit(self.scan_page_size)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_err("scan", e))?;
            for item in out.items() {
                leases.push(from_item(item)?);
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(leases),
            }
        }
    }

    async fn get(&self, lease_key: &str) -> Result<Option<Lease>, LeaseError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(lease_key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_err("get_item", e))?;
        out.item().map(from_item).transpose()
    }

    async fn create_if_absent(&self, lease: &Lease) -> Result<(), LeaseError> {
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(lease)))
            .expected(LEASE_KEY, absent())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(write_failed("put_item", "create", &lease.lease_key, e)),
        }
    }

    async fn renew(&self, lease: &Lease) -> Result<Lease, LeaseError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&lease.lease_key)))
            .expected(LEASE_COUNTER, equals(n(lease.lease_counter)))
            .attribute_updates(LEASE_COUNTER, put(n(lease.lease_counter + 1)))
            .send()
            .await;
        match result {
            Ok(_) => {
                let mut renewed = lease.clone();
                renewed.lease_counter += 1;
                Ok(renewed)
            }
            Err(e) if conditional_failed(&e) => {
                // A retried request whose first attempt succeeded fails its condition; the row
                // then shows exactly our renewal.
                match self.get(&lease.lease_key).await? {
                    Some(row)
                        if row.lease_owner == lease.lease_owner
                            && row.lease_counter == lease.lease_counter + 1 =>
                    {
                        tracing::info!(lease = %lease.lease_key, "spurious renewal failure; the renewal had succeeded");
                        Ok(row)
                    }
                    _ => Err(LeaseError::lost("renew", &lease.lease_key)),
                }
            }
            Err(e) => Err(store_err("update_item", e)),
        }
    }

    async fn take(&self, lease: &Lease, owner: &str) -> Result<Lease, LeaseError> {
        let switches = lease.lease_owner.as_deref().is_some_and(|o| o != owner);
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&lease.lease_key)))
            .expected(LEASE_COUNTER, equals(n(lease.lease_counter)))
            .attribute_updates(LEASE_OWNER, put(s(owner)))
            .attribute_updates(LEASE_COUNTER, put(n(lease.lease_counter + 1)))
            .attribute_updates(CHECKPOINT_OWNER, delete());
        if switches {
            req = req.attribute_updates(OWNER_SWITCHES, add(n(1)));
        }
        match req.send().await {
            Ok(_) => {
                let mut taken = lease.clone();
                taken.lease_owner = Some(owner.to_owned());
                taken.lease_counter += 1;
                if switches {
                    taken.owner_switches_since_checkpoint += 1;
                }
                Ok(taken)
            }
            Err(e) => Err(write_failed("update_item", "take", &lease.lease_key, e)),
        }
    }

    async fn evict(&self, lease: &Lease) -> Result<(), LeaseError> {
        let owner = match &lease.lease_owner {
            Some(o) => equals(s(o)),
            None => absent(),
        };
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&lease.lease_key)))
            .expected(LEASE_OWNER, owner)
            .expected(CHECKPOINT_OWNER, absent())
            .expected(LEASE_KEY, equals(s(&lease.lease_key)))
            .attribute_updates(LEASE_OWNER, delete())
            .attribute_updates(CHECKPOINT_OWNER, delete())
            .attribute_updates(LEASE_COUNTER, add(n(1)))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(write_failed("update_item", "evict", &lease.lease_key, e)),
        }
    }

    async fn update_checkpoint(&self, lease: &Lease) -> Result<Lease, LeaseError> {
        let owner = match &lease.lease_owner {
            Some(o) => equals(s(o)),
            None => absent(),
        };
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&lease.lease_key)))
            .expected(LEASE_COUNTER, equals(n(lease.lease_counter)))
            .expected(LEASE_OWNER, owner)
            .set_attribute_updates(Some(Self::updates_for_checkpoint(lease)))
            .send()
            .await
        {
            Ok(_) => {
                let mut written = lease.clone();
                written.lease_counter += 1;
                written.owner_switches_since_checkpoint = 0;
                Ok(written)
            }
            Err(e) => Err(write_failed(
                "update_item",
                "update_checkpoint",
                &lease.lease_key,
                e,
            )),
        }
    }

    async fn delete(&self, lease_key: &str) -> Result<(), LeaseError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(lease_key)))
            .send()
            .await
            .map_err(|e| store_err("delete_item", e))?;
        Ok(())
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn ss(v: &BTreeSet<String>) -> AttributeValue {
    AttributeValue::Ss(v.iter().cloned().collect())
}

fn put(value: AttributeValue) -> AttributeValueUpdate {
    AttributeValueUpdate::builder()
        .action(AttributeAction::Put)
        .value(value)
        .build()
}

fn add(value: AttributeValue) -> AttributeValueUpdate {
    AttributeValueUpdate::builder()
        .action(AttributeAction::Add)
        .value(value)
        .build()
}

fn delete() -> AttributeValueUpdate {
    AttributeValueUpdate::builder()
        .action(AttributeAction::Delete)
        .build()
}

fn equals(value: AttributeValue) -> ExpectedAttributeValue {
    ExpectedAttributeValue::builder().value(value).build()
}

fn absent() -> ExpectedAttributeValue {
    ExpectedAttributeValue::builder().exists(false).build()
}

/// True when a conditional write was refused because its condition did not hold.
fn conditional_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

/// A failed conditional write of `key` by `action`: the lease was lost when the condition did
/// not hold, else the store failed.
fn write_failed<E, R>(
    operation: &'static str,
    action: &'static str,
    key: &str,
    err: SdkError<E, R>,
) -> LeaseError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if conditional_failed(&err) {
        LeaseError::lost(action, key)
    } else {
        store_err(operation, err)
    }
}

fn store_err<E, R>(operation: &'static str, err: SdkError<E, R>) -> LeaseError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    // Keep the service's code and message in the text: `SdkError`'s Display alone says
    // only "service error". Transport failures have no code; their source says what broke.
    let detail = match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_owned(),
        _ => format!("{err} ({:?})", std::error::Error::source(&err)),
    };
    LeaseError::Store {
        operation,
        source: detail.into(),
    }
}

fn store_err_boxed(
    operation: &'static str,
    err: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> LeaseError {
    LeaseError::Store {
        operation,
        source: err.into(),
    }
}

/// The item KCL writes for `lease` on create.
pub(crate) fn to_item(lease: &Lease) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::new();
    item.insert(LEASE_KEY.to_owned(), s(&lease.lease_key));
    if let Some(owner) = &lease.lease_owner {
        item.insert(LEASE_OWNER.to_owned(), s(owner));
    }
    item.insert(LEASE_COUNTER.to_owned(), n(lease.lease_counter));
    item.insert(CHECKPOINT.to_owned(), s(lease.checkpoint.checkpoint_text()));
    item.insert(
        CHECKPOINT_SUB.to_owned(),
        n(lease.checkpoint.sub_sequence()),
    );
    if let Some(p) = &lease.pending_checkpoint {
        item.insert(PENDING_CHECKPOINT.to_owned(), s(p.checkpoint_text()));
        item.insert(PENDING_CHECKPOINT_SUB.to_owned(), n(p.sub_sequence()));
    }
    if let Some(state) = &lease.pending_checkpoint_state {
        item.insert(
            PENDING_CHECKPOINT_STATE.to_owned(),
            AttributeValue::B(Blob::new(state.clone())),
        );
    }
    item.insert(
        OWNER_SWITCHES.to_owned(),
        n(lease.owner_switches_since_checkpoint),
    );
    // DynamoDB rejects empty sets, so an empty set is an absent attribute.
    if !lease.parent_shard_ids.is_empty() {
        item.insert(PARENT_SHARD_ID.to_owned(), ss(&lease.parent_shard_ids));
    }
    if !lease.child_shard_ids.is_empty() {
        item.insert(CHILD_SHARD_IDS.to_owned(), ss(&lease.child_shard_ids));
    }
    if let Some(range) = lease.hash_key_range {
        item.insert(STARTING_HASH_KEY.to_owned(), s(&range.start.to_string()));
        item.insert(ENDING_HASH_KEY.to_owned(), s(&range.end.to_string()));
    }
    item
}

/// Parse a row; unknown attributes (KCL 3.x's `throughputKBps`, `entityType`, …) are ignored.
pub(crate) fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Lease, LeaseError> {
    let key = match item.get(LEASE_KEY) {
        Some(AttributeValue::S(k)) => k.clone(),
        _ => {
            return Err(LeaseError::Malformed {
                lease_key: "?".into(),
                reason: format!("no string {LEASE_KEY}"),
            });
        }
    };
    let bad = |reason: String| LeaseError::Malformed {
        lease_key: key.clone(),
        reason,
    };
    let string = |name: &str| -> Result<Option<String>, LeaseError> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(other) => Err(bad(format!("{name} is not a string: {other:?}"))),
        }
    };
    let number = |name: &str| -> Result<Option<u64>, LeaseError> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| bad(format!("{name} is not a non-negative integer: {v}"))),
            Some(other) => Err(bad(format!("{name} is not a number: {other:?}"))),
        }
    };
    let set = |name: &str| -> Result<BTreeSet<String>, LeaseError> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(BTreeSet::new()),
            Some(AttributeValue::Ss(v)) => Ok(v.iter().cloned().collect()),
            Some(other) => Err(bad(format!("{name} is not a string set: {other:?}"))),
        }
    };
    let position = |text: Option<String>, sub: Option<u64>| {
        text.map(|t| {
            ExtendedSequenceNumber::from_checkpoint(&t, sub.unwrap_or(0))
                .map_err(|e| bad(e.to_string()))
        })
        .transpose()
    };
    let checkpoint = position(string(CHECKPOINT)?, number(CHECKPOINT_SUB)?)?
        .unwrap_or(ExtendedSequenceNumber::TrimHorizon);
    let pending_checkpoint =
        position(string(PENDING_CHECKPOINT)?, number(PENDING_CHECKPOINT_SUB)?)?;
    let pending_checkpoint_state = match item.get(PENDING_CHECKPOINT_STATE) {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::B(b)) => Some(b.as_ref().to_vec()),
        Some(other) => {
            return Err(bad(format!(
                "{PENDING_CHECKPOINT_STATE} is not binary: {other:?}"
            )));
        }
    };
    let hash_key_range = match (string(STARTING_HASH_KEY)?, string(ENDING_HASH_KEY)?) {
        (Some(start), Some(end)) => {
            let parse = |v: &str| v.parse::<HashKey>().map_err(|e| bad(e.to_string()));
            Some(HashKeyRange {
                start: parse(&start)?,
                end: parse(&end)?,
            })
        }
        _ => None,
    };
    Ok(Lease {
        lease_owner: string(LEASE_OWNER)?,
        lease_counter: number(LEASE_COUNTER)?.unwrap_or(0),
        checkpoint,
        pending_checkpoint,
        pending_checkpoint_state,
        owner_switches_since_checkpoint: number(OWNER_SWITCHES)?.unwrap_or(0),
        parent_shard_ids: set(PARENT_SHARD_ID)?,
        child_shard_ids: set(CHILD_SHARD_IDS)?,
        hash_key_range,
        lease_key: key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_round_trips_with_kcl_attribute_names() {
        let mut lease = Lease::new(
            "shardId-000000000003",
            ExtendedSequenceNumber::at("4954346307654800757710509270".parse().unwrap(), 4),
        )
        .with_parents(["shardId-000000000000", "shardId-000000000001"])
        .with_hash_key_range(HashKeyRange {
            start: HashKey(5),
            end: HashKey(u128::MAX),
        });
        lease.lease_owner = Some("w1".into());
        lease.lease_counter = 42;
        lease.pending_checkpoint = Some(ExtendedSequenceNumber::ShardEnd);
        lease.pending_checkpoint_state = Some(vec![1, 2, 3]);
        lease.owner_switches_since_checkpoint = 2;
        lease.child_shard_ids = ["shardId-000000000009".to_owned()].into();
        let item = to_item(&lease);
        let mut names: Vec<_> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "checkpoint",
                "checkpointSubSequenceNumber",
                "childShardIds",
                "endingHashKey",
                "leaseCounter",
                "leaseKey",
                "leaseOwner",
                "ownerSwitchesSinceCheckpoint",
                "parentShardId",
                "pendingCheckpoint",
                "pendingCheckpointState",
                "pendingCheckpointSubSequenceNumber",
                "startingHashKey",
            ]
        );
        assert_eq!(
            item.get("parentShardId"),
            Some(&AttributeValue::Ss(vec![
                "shardId-000000000000".into(),
                "shardId-000000000001".into()
            ]))
        );
        assert_eq!(from_item(&item).unwrap(), lease);
    }

    #[test]
    fn minimal_and_foreign_rows_parse() {
        // A fresh KCL lease: key, counter, checkpoint; plus a KCL 3.x attribute we ignore.
        let item = HashMap::from([
            ("leaseKey".to_owned(), s("shardId-000000000000")),
            ("leaseCounter".to_owned(), n(0)),
            ("checkpoint".to_owned(), s("TRIM_HORIZON")),
            ("checkpointSubSequenceNumber".to_owned(), n(0)),
            ("throughputKBps".to_owned(), AttributeValue::N("1.5".into())),
        ]);
        let lease = from_item(&item).unwrap();
        assert_eq!(lease.lease_owner, None);
        assert_eq!(lease.checkpoint, ExtendedSequenceNumber::TrimHorizon);
        let bad = HashMap::from([
            ("leaseKey".to_owned(), s("x")),
            ("leaseCounter".to_owned(), s("nope")),
        ]);
        assert!(matches!(from_item(&bad), Err(LeaseError::Malformed { .. })));
    }
}
