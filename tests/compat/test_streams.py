"""boto3: stream lifecycle, description, listing, retention and limits."""

from __future__ import annotations

import datetime as dt


from kinesis_helpers import (
    ACCOUNT,
    MAX_HASH_KEY,
    create_stream,
    not_found,
    raises_aws,
    shard_id,
    stream_arn,
    uniform_ranges,
)


def _ranges(shards: list[dict]) -> list[tuple[int, int]]:
    return [
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards
    ]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --- CreateStream / DescribeStream -------------------------------------------------------


def test_create_stream_describes_active_stream_with_uniform_hash_ranges(kinesis, stream_name):
    before = _now()
    assert kinesis.create_stream(StreamName=stream_name, ShardCount=3)[
        "ResponseMetadata"
    ]["HTTPStatusCode"] == 200
    desc = kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]
    assert desc["StreamName"] == stream_name
    assert desc["StreamARN"] == stream_arn(stream_name)
    assert desc["StreamStatus"] == "ACTIVE"
    assert desc["RetentionPeriodHours"] == 24
    assert desc["HasMoreShards"] is False
    assert desc["EncryptionType"] == "NONE"
    assert desc["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    created = desc["StreamCreationTimestamp"]
    assert before - dt.timedelta(seconds=5) <= created <= _now() + dt.timedelta(seconds=5)
    assert [s["ShardId"] for s in desc["Shards"]] == [shard_id(i) for i in range(3)]
    assert _ranges(desc["Shards"]) == uniform_ranges(3)
    for s in desc["Shards"]:
        assert "ParentShardId" not in s and "AdjacentParentShardId" not in s
        rng = s["SequenceNumberRange"]
        assert rng["StartingSequenceNumber"].isdigit()
        assert "EndingSequenceNumber" not in rng


def test_create_stream_with_one_shard_owns_the_whole_hash_key_range(kinesis, stream_name):
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    shards = kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]["Shards"]
    assert [s["ShardId"] for s in shards] == ["shardId-000000000000"]
    assert _ranges(shards) == [(0, MAX_HASH_KEY)]


def test_create_stream_with_power_of_two_shards_splits_hash_space_evenly(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=4)
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    assert _ranges(shards) == [(i * 2**126, (i + 1) * 2**126 - 1) for i in range(4)]


def test_create_existing_stream_is_resource_in_use(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "ResourceInUseException", f"Stream {stream_name} under account {ACCOUNT} already exists."
    ):
        kinesis.create_stream(StreamName=stream_name, ShardCount=2)


def test_create_stream_with_invalid_name_is_validation_exception(kinesis):
    with raises_aws(
        "ValidationException",
        "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    ):
        kinesis.create_stream(StreamName="bad name!", ShardCount=2)


def test_create_stream_with_too_long_name_is_validation_exception(kinesis):
    name = "a" * 129
    with raises_aws(
        "ValidationException",
        f"1 validation error detected: Value '{name}' at 'streamName' failed to satisfy "
        "constraint: Member must have length less than or equal to 128",
    ):
        kinesis.create_stream(StreamName=name, ShardCount=2)


def test_create_stream_beyond_the_shard_limit_is_limit_exceeded(kinesis, stream_name):
    limits = kinesis.describe_limits()
    extra = limits["ShardLimit"] - limits["OpenShardCount"] + 1
    with raises_aws(
        "LimitExceededException",
        f"This request would exceed the shard limit for the account {ACCOUNT} in us-east-1. "
        f"Current shard count for the account: {limits['OpenShardCount']}. "
        f"Limit: {limits['ShardLimit']}. "
        f"Number of additional shards that would have resulted from this request: {extra}. "
        "Refer to the AWS Service Limits page "
        "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) "
        "for current limits and how to request higher limits.",
    ):
        kinesis.create_stream(StreamName=stream_name, ShardCount=extra)
    with raises_aws("ResourceNotFoundException"):
        kinesis.describe_stream_summary(StreamName=stream_name)


def test_create_stream_with_tags_attaches_them(kinesis, stream_name):
    create_stream(kinesis, stream_name, Tags={"owner": "compat", "tier": "gold"})
    tags = kinesis.list_tags_for_stream(StreamName=stream_name)["Tags"]
    assert sorted(tags, key=lambda t: t["Key"]) == [
        {"Key": "owner", "Value": "compat"},
        {"Key": "tier", "Value": "gold"},
    ]


def test_create_on_demand_stream_reports_on_demand_mode(kinesis, stream_name):
    before = kinesis.describe_limits()["OnDemandStreamCount"]
    kinesis.create_stream(StreamName=stream_name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] >= 1
    # An on-demand stream's shards still tile the whole hash key space.
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    ranges = sorted(_ranges(shards))
    assert ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH_KEY
    assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:]))
    assert kinesis.describe_limits()["OnDemandStreamCount"] == before + 1
    kinesis.delete_stream(StreamName=stream_name)


def test_describe_stream_by_arn_matches_describe_by_name(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    by_name = kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]
    by_arn = kinesis.describe_stream(StreamARN=stream_arn(stream_name))["StreamDescription"]
    assert by_arn == by_name


def test_describe_stream_pages_shards_with_limit_and_exclusive_start_shard_id(
    kinesis, stream_name
):
    create_stream(kinesis, stream_name, shards=5)
    first = kinesis.describe_stream(StreamName=stream_name, Limit=2)["StreamDescription"]
    assert [s["ShardId"] for s in first["Shards"]] == [shard_id(0), shard_id(1)]
    assert first["HasMoreShards"] is True
    second = kinesis.describe_stream(
        StreamName=stream_name, Limit=2, ExclusiveStartShardId=shard_id(1)
    )["StreamDescription"]
    assert [s["ShardId"] for s in second["Shards"]] == [shard_id(2), shard_id(3)]
    assert second["HasMoreShards"] is True
    last = kinesis.describe_stream(
        StreamName=stream_name, Limit=2, ExclusiveStartShardId=shard_id(3)
    )["StreamDescription"]
    assert [s["ShardId"] for s in last["Shards"]] == [shard_id(4)]
    assert last["HasMoreShards"] is False
    # boto3's DescribeStream paginator follows HasMoreShards / the last ShardId.
    pages = kinesis.get_paginator("describe_stream").paginate(
        StreamName=stream_name, PaginationConfig={"PageSize": 2}
    )
    ids = [s["ShardId"] for p in pages for s in p["StreamDescription"]["Shards"]]
    assert ids == [shard_id(i) for i in range(5)]


def test_describe_stream_returns_at_most_100_shards_per_call(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=101)
    for kw in ({}, {"Limit": 10000}):
        desc = kinesis.describe_stream(StreamName=stream_name, **kw)["StreamDescription"]
        assert len(desc["Shards"]) == 100, kw
        assert desc["HasMoreShards"] is True
    rest = kinesis.describe_stream(StreamName=stream_name, ExclusiveStartShardId=shard_id(99))
    assert [s["ShardId"] for s in rest["StreamDescription"]["Shards"]] == [shard_id(100)]
    assert rest["StreamDescription"]["HasMoreShards"] is False
    kinesis.delete_stream(StreamName=stream_name)


def test_stream_operation_without_name_or_arn_is_invalid_argument(kinesis):
    with raises_aws("InvalidArgumentException"):
        kinesis.describe_stream_summary()


def test_describe_missing_stream_is_resource_not_found(kinesis, stream_name):
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.describe_stream(StreamName=stream_name)


def test_describe_stream_summary_shape(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=3)
    s = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
    assert s["StreamName"] == stream_name
    assert s["StreamARN"] == stream_arn(stream_name)
    assert s["StreamStatus"] == "ACTIVE"
    assert s["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert s["RetentionPeriodHours"] == 24
    assert s["OpenShardCount"] == 3
    assert s["EncryptionType"] == "NONE"
    assert s["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    assert s.get("ConsumerCount", 0) == 0
    assert isinstance(s["StreamCreationTimestamp"], dt.datetime)
    assert "Shards" not in s
    by_arn = kinesis.describe_stream_summary(StreamARN=stream_arn(stream_name))
    assert by_arn["StreamDescriptionSummary"] == s


def test_describe_stream_summary_of_missing_stream_is_resource_not_found(kinesis, stream_name):
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.describe_stream_summary(StreamName=stream_name)


# --- DeleteStream --------------------------------------------------------------------------


def test_delete_stream_removes_it_from_describe_and_list(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    kinesis.delete_stream(StreamName=stream_name)
    kinesis.get_waiter("stream_not_exists").wait(
        StreamName=stream_name, WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.describe_stream_summary(StreamName=stream_name)
    names = [
        n
        for p in kinesis.get_paginator("list_streams").paginate()
        for n in p["StreamNames"]
    ]
    assert stream_name not in names


def test_delete_stream_by_arn_then_recreate_same_name_starts_empty(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    kinesis.put_record(StreamName=stream_name, Data=b"old", PartitionKey="k")
    kinesis.delete_stream(StreamARN=stream_arn(stream_name))
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.describe_stream(StreamName=stream_name)
    create_stream(kinesis, stream_name)
    for s in kinesis.list_shards(StreamName=stream_name)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=stream_name, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        assert kinesis.get_records(ShardIterator=it)["Records"] == []


def test_delete_missing_stream_is_resource_not_found(kinesis, stream_name):
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.delete_stream(StreamName=stream_name)


# --- ListStreams -----------------------------------------------------------------------------


def test_list_streams_paginator_returns_every_stream_in_name_order(kinesis, stream_name):
    names = [f"{stream_name}-{c}" for c in "edcba"]
    for n in names:
        create_stream(kinesis, n)
    pages = list(
        kinesis.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 2})
    )
    assert len(pages) >= 3
    assert all(len(p["StreamNames"]) <= 2 for p in pages)
    assert [p["HasMoreStreams"] for p in pages] == [True] * (len(pages) - 1) + [False]
    assert all("NextToken" in p for p in pages[:-1])
    listed = [n for p in pages for n in p["StreamNames"]]
    assert listed == sorted(listed) and len(set(listed)) == len(listed)
    assert [n for n in listed if n.startswith(stream_name)] == sorted(names)
    summaries = {s["StreamName"]: s for p in pages for s in p["StreamSummaries"]}
    assert list(summaries) == listed
    mine = summaries[names[0]]
    assert mine["StreamARN"] == stream_arn(names[0])
    assert mine["StreamStatus"] == "ACTIVE"
    assert mine["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert isinstance(mine["StreamCreationTimestamp"], dt.datetime)


def test_list_streams_limit_and_exclusive_start_stream_name(kinesis, stream_name):
    names = [f"{stream_name}-{i}" for i in range(3)]
    for n in names:
        create_stream(kinesis, n)
    page = kinesis.list_streams(Limit=2, ExclusiveStartStreamName=names[0])
    assert page["StreamNames"][:2] == names[1:]
    assert len(page["StreamNames"]) == 2
    everything = kinesis.list_streams(ExclusiveStartStreamName=names[2])
    assert all(n > names[2] for n in everything["StreamNames"])


# --- ListShards ------------------------------------------------------------------------------


def test_list_shards_pages_with_max_results_and_next_token(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=5)
    first = kinesis.list_shards(StreamName=stream_name, MaxResults=2)
    assert [s["ShardId"] for s in first["Shards"]] == [shard_id(0), shard_id(1)]
    token = first["NextToken"]
    # A NextToken request names no stream.
    second = kinesis.list_shards(NextToken=token, MaxResults=2)
    assert [s["ShardId"] for s in second["Shards"]] == [shard_id(2), shard_id(3)]
    third = kinesis.list_shards(NextToken=second["NextToken"], MaxResults=2)
    assert [s["ShardId"] for s in third["Shards"]] == [shard_id(4)]
    assert "NextToken" not in third
    assert _ranges(first["Shards"] + second["Shards"] + third["Shards"]) == uniform_ranges(5)


def test_list_shards_paginator_with_stream_name_fails_on_second_page_like_aws(
    kinesis, stream_name
):
    """boto3's ListShards paginator resends StreamName with NextToken, which AWS rejects
    (boto/botocore#2009); the server must reject it the same way, not silently page."""
    create_stream(kinesis, stream_name, shards=3)
    pages = kinesis.get_paginator("list_shards").paginate(
        StreamName=stream_name, PaginationConfig={"PageSize": 2}
    )
    with raises_aws(
        "InvalidArgumentException", "NextToken and StreamName cannot be provided together."
    ):
        list(pages)


def test_list_shards_without_next_token_returns_everything(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=3)
    out = kinesis.list_shards(StreamName=stream_name)
    assert [s["ShardId"] for s in out["Shards"]] == [shard_id(i) for i in range(3)]
    assert "NextToken" not in out
    for s in out["Shards"]:
        assert set(s) >= {"ShardId", "HashKeyRange", "SequenceNumberRange"}


def test_list_shards_by_arn_with_exclusive_start_shard_id(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=4)
    out = kinesis.list_shards(StreamARN=stream_arn(stream_name), ExclusiveStartShardId=shard_id(1))
    assert [s["ShardId"] for s in out["Shards"]] == [shard_id(2), shard_id(3)]


def test_list_shards_shard_filters_select_open_and_later_shards(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=3)

    def ids(**kw):
        return [s["ShardId"] for s in kinesis.list_shards(StreamName=stream_name, **kw)["Shards"]]

    every = [shard_id(i) for i in range(3)]
    assert ids(ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": shard_id(0)}) == every[1:]
    assert ids(ShardFilter={"Type": "AT_LATEST"}) == every
    assert ids(ShardFilter={"Type": "AT_TRIM_HORIZON"}) == every
    assert ids(ShardFilter={"Type": "FROM_TRIM_HORIZON"}) == every


def test_list_shards_with_next_token_and_stream_name_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=3)
    token = kinesis.list_shards(StreamName=stream_name, MaxResults=1)["NextToken"]
    with raises_aws(
        "InvalidArgumentException", "NextToken and StreamName cannot be provided together."
    ):
        kinesis.list_shards(StreamName=stream_name, NextToken=token)


def test_list_shards_without_stream_or_token_is_invalid_argument(kinesis):
    with raises_aws(
        "InvalidArgumentException", "Either NextToken or StreamName should be provided."
    ):
        kinesis.list_shards()


def test_list_shards_of_missing_stream_is_resource_not_found(kinesis, stream_name):
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.list_shards(StreamName=stream_name)


# --- Retention ------------------------------------------------------------------------------


def test_increase_then_decrease_retention_shows_in_summary(kinesis, stream_name):
    create_stream(kinesis, stream_name)

    def hours():
        return kinesis.describe_stream_summary(StreamName=stream_name)[
            "StreamDescriptionSummary"
        ]["RetentionPeriodHours"]

    kinesis.increase_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=48)
    assert hours() == 48
    kinesis.increase_stream_retention_period(
        StreamARN=stream_arn(stream_name), RetentionPeriodHours=8760
    )
    assert hours() == 8760
    kinesis.decrease_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=24)
    assert hours() == 24
    assert (
        kinesis.describe_stream(StreamName=stream_name)["StreamDescription"][
            "RetentionPeriodHours"
        ]
        == 24
    )


def test_retention_shorter_than_24_hours_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    msg = (
        "Minimum allowed retention period is 24 hours. "
        "Requested retention period (23 hours) is too short."
    )
    with raises_aws("InvalidArgumentException", msg):
        kinesis.decrease_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=23)
    with raises_aws("InvalidArgumentException", msg):
        kinesis.increase_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=23)


def test_retention_longer_than_8760_hours_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws("InvalidArgumentException", contains="8760"):
        kinesis.increase_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=8761)


def test_increase_retention_below_current_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    kinesis.increase_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=72)
    with raises_aws(
        "InvalidArgumentException",
        f"Requested retention period (48 hours) for stream {stream_name} can not be shorter "
        "than existing retention period (72 hours). Use DecreaseRetentionPeriod API.",
    ):
        kinesis.increase_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=48)


def test_decrease_retention_above_current_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "InvalidArgumentException",
        f"Requested retention period (48 hours) for stream {stream_name} can not be longer "
        "than existing retention period (24 hours). Use IncreaseRetentionPeriod API.",
    ):
        kinesis.decrease_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=48)


def test_retention_change_on_missing_stream_is_resource_not_found(kinesis, stream_name):
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.increase_stream_retention_period(StreamName=stream_name, RetentionPeriodHours=48)


# --- DescribeLimits / unsupported operations -----------------------------------------------


def test_describe_limits_counts_open_shards(kinesis, stream_name):
    before = kinesis.describe_limits()
    for key in ("ShardLimit", "OpenShardCount", "OnDemandStreamCount", "OnDemandStreamCountLimit"):
        assert isinstance(before[key], int), (key, before)
    assert before["ShardLimit"] >= before["OpenShardCount"]
    create_stream(kinesis, stream_name, shards=3)
    after = kinesis.describe_limits()
    assert after["OpenShardCount"] == before["OpenShardCount"] + 3
    assert after["ShardLimit"] == before["ShardLimit"]
    kinesis.delete_stream(StreamName=stream_name)
    assert kinesis.describe_limits()["OpenShardCount"] == before["OpenShardCount"]
