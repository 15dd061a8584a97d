//! Stream mode, record size, encryption, enhanced monitoring, warm throughput, account
//! settings and resource policies through `aws-sdk-kinesis`.

use crate::common::{TestServer, err_parts};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    EncryptionType, MetricsName, MinimumThroughputBillingCommitmentInput,
    MinimumThroughputBillingCommitmentInputStatus, ShardIteratorType, StreamMode,
    StreamModeDetails,
};

fn arn(name: &str) -> String {
    format!("arn:aws:kinesis:us-east-1:000000000000:stream/{name}")
}

#[tokio::test]
async fn stream_mode_switches_both_ways_twice_a_day_at_most() {
    let t = TestServer::start().await;
    t.create_stream("mode", 2).await;
    let od = StreamModeDetails::builder()
        .stream_mode(StreamMode::OnDemand)
        .build()
        .unwrap();
    let pv = StreamModeDetails::builder()
        .stream_mode(StreamMode::Provisioned)
        .build()
        .unwrap();
    t.client
        .update_stream_mode()
        .stream_arn(arn("mode"))
        .stream_mode_details(od.clone())
        .send()
        .await
        .expect("to on-demand");
    let s = t
        .client
        .describe_stream_summary()
        .stream_name("mode")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary()
            .unwrap()
            .stream_mode_details()
            .unwrap()
            .stream_mode(),
        &StreamMode::OnDemand
    );
    t.client
        .update_stream_mode()
        .stream_arn(arn("mode"))
        .stream_mode_details(pv)
        .send()
        .await
        .expect("back");
    let e = t
        .client
        .update_stream_mode()
        .stream_arn(arn("mode"))
        .stream_mode_details(od)
        .send()
        .await
        .expect_err("third");
    assert_eq!(err_parts(&e).0, "LimitExceededException");
}

#[tokio::test]
async fn max_record_size_can_be_raised_to_ten_mebibytes() {
    let t = TestServer::start().await;
    t.create_stream("big", 1).await;
    let two_mb = vec![9u8; 2 * 1024 * 1024];
    let e = t
        .client
        .put_record()
        .stream_name("big")
        .partition_key("k")
        .data(Blob::new(two_mb.clone()))
        .send()
        .await
        .expect_err("too big");
    assert_eq!(err_parts(&e), ("ValidationException".into(), "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=2097152 cap=2097152]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576".into()));
    t.client
        .update_max_record_size()
        .stream_arn(arn("big"))
        .max_record_size_in_kib(10240)
        .send()
        .await
        .expect("raise");
    let s = t
        .client
        .describe_stream_summary()
        .stream_name("big")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary()
            .unwrap()
            .max_record_size_in_kib(),
        Some(10240)
    );
    t.client
        .put_record()
        .stream_name("big")
        .partition_key("k")
        .data(Blob::new(two_mb.clone()))
        .send()
        .await
        .expect("2 MiB record");
    let it = t
        .client
        .get_shard_iterator()
        .stream_name("big")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let out = t
        .client
        .get_records()
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.records()[0].data().as_ref(), &two_mb[..]);
    let e = t
        .client
        .update_max_record_size()
        .stream_arn(arn("big"))
        .max_record_size_in_kib(10241)
        .send()
        .await
        .expect_err("over");
    assert_eq!(err_parts(&e).0, "ValidationException");
}

#[tokio::test]
async fn encryption_shows_on_the_stream_and_its_records() {
    let t = TestServer::start().await;
    t.create_stream("enc", 1).await;
    t.client
        .start_stream_encryption()
        .stream_name("enc")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .expect("start");
    let d = t
        .client
        .describe_stream()
        .stream_name("enc")
        .send()
        .await
        .unwrap();
    let d = d.stream_description().unwrap();
    assert_eq!(d.encryption_type(), Some(&EncryptionType::Kms));
    assert_eq!(d.key_id(), Some("alias/aws/kinesis"));
    let p = t
        .client
        .put_record()
        .stream_name("enc")
        .partition_key("k")
        .data(Blob::new("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(p.encryption_type(), Some(&EncryptionType::Kms));
    let it = t
        .client
        .get_shard_iterator()
        .stream_name("enc")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let out = t
        .client
        .get_records()
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.records()[0].encryption_type(),
        Some(&EncryptionType::Kms)
    );
    t.client
        .stop_stream_encryption()
        .stream_name("enc")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .expect("stop");
    let s = t
        .client
        .describe_stream_summary()
        .stream_name("enc")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary().unwrap().encryption_type(),
        Some(&EncryptionType::None)
    );
}

#[tokio::test]
async fn enhanced_monitoring_reports_current_and_desired_metrics() {
    let t = TestServer::start().await;
    t.create_stream("mon", 1).await;
    let on = t
        .client
        .enable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .send()
        .await
        .expect("enable");
    assert!(on.current_shard_level_metrics().is_empty());
    assert_eq!(
        on.desired_shard_level_metrics(),
        [MetricsName::IncomingBytes]
    );
    let all = t
        .client
        .enable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .expect("all");
    assert_eq!(all.desired_shard_level_metrics().len(), 7);
    let off = t
        .client
        .disable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .send()
        .await
        .expect("disable");
    assert_eq!(off.current_shard_level_metrics().len(), 7);
    assert_eq!(off.desired_shard_level_metrics().len(), 6);
    let d = t
        .client
        .describe_stream()
        .stream_name("mon")
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.stream_description().unwrap().enhanced_monitoring()[0]
            .shard_level_metrics()
            .len(),
        6
    );
}

#[tokio::test]
async fn warm_throughput_needs_on_demand_and_a_billing_commitment() {
    let t = TestServer::start().await;
    t.create_stream("warm", 1).await;
    let e = t
        .client
        .update_stream_warm_throughput()
        .stream_name("warm")
        .warm_throughput_mibps(100)
        .send()
        .await
        .expect_err("provisioned");
    assert_eq!(err_parts(&e).0, "InvalidArgumentException");
    let before = t
        .client
        .describe_account_settings()
        .send()
        .await
        .expect("describe");
    assert!(before.minimum_throughput_billing_commitment().is_none());
    let c = MinimumThroughputBillingCommitmentInput::builder()
        .status(MinimumThroughputBillingCommitmentInputStatus::Enabled)
        .build()
        .unwrap();
    let after = t
        .client
        .update_account_settings()
        .minimum_throughput_billing_commitment(c)
        .send()
        .await
        .expect("update");
    assert_eq!(
        after
            .minimum_throughput_billing_commitment()
            .unwrap()
            .status()
            .as_str(),
        "ENABLED"
    );
    let od = StreamModeDetails::builder()
        .stream_mode(StreamMode::OnDemand)
        .build()
        .unwrap();
    t.client
        .update_stream_mode()
        .stream_arn(arn("warm"))
        .stream_mode_details(od)
        .send()
        .await
        .unwrap();
    let w = t
        .client
        .update_stream_warm_throughput()
        .stream_name("warm")
        .warm_throughput_mibps(100)
        .send()
        .await
        .expect("warm");
    assert_eq!(w.warm_throughput().unwrap().target_mibps(), Some(100));
}

#[tokio::test]
async fn resource_policies_round_trip() {
    let t = TestServer::start().await;
    t.create_stream("pol", 1).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
    t.client
        .put_resource_policy()
        .resource_arn(arn("pol"))
        .policy(policy)
        .send()
        .await
        .expect("put");
    let got = t
        .client
        .get_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .expect("get");
    assert_eq!(got.policy(), policy);
    t.client
        .delete_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .expect("delete");
    let got = t
        .client
        .get_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .expect("get");
    assert_eq!(got.policy(), "{}");
    let e = t
        .client
        .put_resource_policy()
        .resource_arn(arn("pol"))
        .policy("not json")
        .send()
        .await
        .expect_err("bad");
    assert_eq!(err_parts(&e).0, "InvalidArgumentException");
    let e = t
        .client
        .get_resource_policy()
        .resource_arn(arn("none"))
        .send()
        .await
        .expect_err("missing");
    assert_eq!(err_parts(&e).0, "ResourceNotFoundException");
}
