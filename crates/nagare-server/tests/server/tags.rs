//! Tagging through `aws-sdk-kinesis`.

use crate::common::{TestServer, err_parts};

#[tokio::test]
async fn tags_round_trip_by_name_and_by_arn() {
    let t = TestServer::start().await;
    t.create_stream("tg", 1).await;
    t.client
        .add_tags_to_stream()
        .stream_name("tg")
        .tags("b", "2")
        .tags("a", "1")
        .tags("c", "")
        .send()
        .await
        .expect("add");
    let l = t
        .client
        .list_tags_for_stream()
        .stream_name("tg")
        .limit(2)
        .send()
        .await
        .expect("list");
    assert_eq!(
        l.tags()
            .iter()
            .map(|t| (t.key(), t.value().unwrap_or_default()))
            .collect::<Vec<_>>(),
        [("a", "1"), ("b", "2")]
    );
    assert!(l.has_more_tags());
    let l = t
        .client
        .list_tags_for_stream()
        .stream_name("tg")
        .exclusive_start_tag_key("b")
        .send()
        .await
        .expect("list");
    assert_eq!(l.tags().len(), 1);
    assert!(!l.has_more_tags());
    t.client
        .remove_tags_from_stream()
        .stream_name("tg")
        .tag_keys("a")
        .send()
        .await
        .expect("remove");

    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/tg";
    t.client
        .tag_resource()
        .resource_arn(arn)
        .tags("d", "4")
        .send()
        .await
        .expect("tag");
    t.client
        .untag_resource()
        .resource_arn(arn)
        .tag_keys("b")
        .send()
        .await
        .expect("untag");
    let r = t
        .client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .expect("list");
    assert_eq!(
        r.tags().iter().map(|t| t.key()).collect::<Vec<_>>(),
        ["c", "d"]
    );
}

#[tokio::test]
async fn tag_rules_follow_aws() {
    let t = TestServer::start().await;
    t.create_stream("tr", 1).await;
    let e = t
        .client
        .add_tags_to_stream()
        .stream_name("tr")
        .tags("a", "x%")
        .send()
        .await
        .expect_err("percent");
    assert_eq!(
        err_parts(&e).1,
        "Failed to add tags to stream tr under account 000000000000 because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'."
    );
    let e = t
        .client
        .add_tags_to_stream()
        .stream_name("tr")
        .tags("a", "x!")
        .send()
        .await
        .expect_err("bang");
    assert_eq!(
        err_parts(&e).1,
        "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
    );
    for batch in 0..5 {
        let mut req = t.client.add_tags_to_stream().stream_name("tr");
        for i in 0..10 {
            req = req.tags(format!("k{batch}-{i}"), "v");
        }
        req.send().await.expect("fill to 50");
    }
    let e = t
        .client
        .add_tags_to_stream()
        .stream_name("tr")
        .tags("one-more", "v")
        .send()
        .await
        .expect_err("51");
    assert_eq!(err_parts(&e), ("InvalidArgumentException".into(), "Failed to add tags to stream tr under account 000000000000 because a given stream cannot have more than 10 tags associated with it.".into()));
    let mut req = t.client.add_tags_to_stream().stream_name("tr");
    for i in 0..11 {
        req = req.tags(format!("n{i}"), "v");
    }
    let e = req.send().await.expect_err("11 in one call");
    assert_eq!(err_parts(&e).0, "ValidationException");
    assert!(err_parts(&e).1.ends_with(
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 10"
    ));
    let e = t
        .client
        .list_tags_for_resource()
        .resource_arn("arn:aws:kinesis:us-east-1:000000000000:stream/none")
        .send()
        .await
        .expect_err("missing");
    assert_eq!(err_parts(&e).0, "ResourceNotFoundException");
}
