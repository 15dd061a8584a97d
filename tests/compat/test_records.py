"""boto3: PutRecord, PutRecords, GetShardIterator and GetRecords."""

from __future__ import annotations

import datetime as dt
import math
import time

from kinesis_helpers import (
    ACCOUNT,
    MAX_HASH_KEY,
    create_stream,
    md5_hash_key,
    not_found,
    raises_aws,
    read_shard,
    shard_for_key,
    shard_id,
    stream_arn,
)

SHARD0 = "shardId-000000000000"


def _iterator(kinesis, name, shard=SHARD0, kind="TRIM_HORIZON", **kw) -> str:
    return kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard, ShardIteratorType=kind, **kw
    )["ShardIterator"]


# --- PutRecord -----------------------------------------------------------------------------


def test_put_record_routes_by_md5_of_partition_key(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=4)
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    seen = set()
    for key in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "123"]:
        out = kinesis.put_record(StreamName=stream_name, Data=key.encode(), PartitionKey=key)
        assert out["ShardId"] == shard_for_key(shards, md5_hash_key(key)), key
        assert out["SequenceNumber"].isdigit() and len(out["SequenceNumber"]) <= 129
        assert out.get("EncryptionType", "NONE") == "NONE"
        seen.add(out["ShardId"])
    assert len(seen) > 1


def test_put_record_explicit_hash_key_overrides_partition_key(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=4)
    for i, h in enumerate([0, 2**126, 2**127 + 5, MAX_HASH_KEY]):
        out = kinesis.put_record(
            StreamName=stream_name, Data=b"x", PartitionKey="same-key", ExplicitHashKey=str(h)
        )
        assert out["ShardId"] == shard_id(i)


def test_put_record_explicit_hash_key_above_2_pow_128_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    too_big = str(2**128)
    with raises_aws(
        "InvalidArgumentException",
        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
        f"Specified value was {too_big}",
    ):
        kinesis.put_record(
            StreamName=stream_name, Data=b"x", PartitionKey="k", ExplicitHashKey=too_big
        )


def test_put_record_sequence_numbers_increase_within_a_shard(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    seqs = [
        int(
            kinesis.put_record(
                StreamName=stream_name, Data=b"%d" % i, PartitionKey="k", ExplicitHashKey="0"
            )["SequenceNumber"]
        )
        for i in range(5)
    ]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5


def test_put_record_with_sequence_number_for_ordering_gets_a_greater_number(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    first = kinesis.put_record(StreamName=stream_name, Data=b"a", PartitionKey="k")
    second = kinesis.put_record(
        StreamName=stream_name,
        Data=b"b",
        PartitionKey="k",
        SequenceNumberForOrdering=first["SequenceNumber"],
    )
    assert second["ShardId"] == first["ShardId"]
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])


def test_put_record_with_257_character_partition_key_is_validation_exception(
    kinesis, stream_name
):
    create_stream(kinesis, stream_name)
    key = "k" * 257
    with raises_aws(
        "ValidationException",
        f"1 validation error detected: Value '{key}' at 'partitionKey' failed to satisfy "
        "constraint: Member must have length less than or equal to 256",
    ):
        kinesis.put_record(StreamName=stream_name, Data=b"x", PartitionKey=key)


def test_put_record_data_over_1_mib_is_validation_exception(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    ok = kinesis.put_record(StreamName=stream_name, Data=b"x" * 1048576, PartitionKey="k")
    assert ok["SequenceNumber"].isdigit()
    with raises_aws(
        "ValidationException",
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 "
        "cap=1048577]' at 'data' failed to satisfy constraint: Member must have length less "
        "than or equal to 1048576",
    ):
        kinesis.put_record(StreamName=stream_name, Data=b"x" * 1048577, PartitionKey="k")


def test_put_record_with_malformed_sequence_number_for_ordering_is_invalid_argument(
    kinesis, stream_name
):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "InvalidArgumentException",
        f"ExclusiveMinimumSequenceNumber 12345 used in PutRecord on stream {stream_name} "
        f"under account {ACCOUNT} is invalid.",
    ):
        kinesis.put_record(
            StreamName=stream_name, Data=b"x", PartitionKey="k", SequenceNumberForOrdering="12345"
        )


def test_put_record_to_missing_stream_is_resource_not_found(kinesis, stream_name):
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.put_record(StreamName=stream_name, Data=b"x", PartitionKey="k")


def test_put_record_by_stream_arn_and_binary_data_round_trip(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    data = bytes(range(256)) * 4
    out = kinesis.put_record(
        StreamARN=stream_arn(stream_name), Data=data, PartitionKey="bin", ExplicitHashKey="0"
    )
    assert out["ShardId"] == SHARD0
    it = kinesis.get_shard_iterator(
        StreamARN=stream_arn(stream_name), ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    recs = kinesis.get_records(ShardIterator=it, StreamARN=stream_arn(stream_name))["Records"]
    assert [(r["Data"], r["PartitionKey"], r["SequenceNumber"]) for r in recs] == [
        (data, "bin", out["SequenceNumber"])
    ]


# --- PutRecords ----------------------------------------------------------------------------


def test_put_records_returns_one_success_per_entry_in_input_order(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=3)
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    entries = [{"Data": f"rec-{i}".encode(), "PartitionKey": f"pk-{i}"} for i in range(20)]
    out = kinesis.put_records(StreamName=stream_name, Records=entries)
    assert out["FailedRecordCount"] == 0
    assert out.get("EncryptionType", "NONE") == "NONE"
    assert len(out["Records"]) == len(entries)
    for entry, res in zip(entries, out["Records"]):
        assert "ErrorCode" not in res and "ErrorMessage" not in res, res
        assert res["ShardId"] == shard_for_key(shards, md5_hash_key(entry["PartitionKey"]))
        assert res["SequenceNumber"].isdigit()
    # Reading every shard gives back each entry, in input order within its shard, with the
    # sequence number PutRecords reported for it.
    expected: dict[str, list] = {}
    for entry, res in zip(entries, out["Records"]):
        expected.setdefault(res["ShardId"], []).append(
            (entry["Data"], entry["PartitionKey"], res["SequenceNumber"])
        )
    assert len(expected) > 1
    for sid, want in expected.items():
        got = read_shard(kinesis, stream_name, sid)
        assert [(r["Data"], r["PartitionKey"], r["SequenceNumber"]) for r in got] == want


def test_put_records_with_explicit_hash_keys_lands_entries_on_chosen_shards(kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=2)
    entries = [
        {"Data": b"hi", "PartitionKey": "k", "ExplicitHashKey": str(MAX_HASH_KEY)},
        {"Data": b"lo", "PartitionKey": "k", "ExplicitHashKey": "0"},
    ]
    out = kinesis.put_records(StreamName=stream_name, Records=entries)
    assert [r["ShardId"] for r in out["Records"]] == [shard_id(1), shard_id(0)]


def test_put_records_with_one_out_of_range_hash_key_fails_the_whole_request(
    kinesis, stream_name
):
    create_stream(kinesis, stream_name)
    too_big = str(2**128)
    with raises_aws(
        "InvalidArgumentException",
        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
        f"Specified value was {too_big}",
    ):
        kinesis.put_records(
            StreamName=stream_name,
            Records=[
                {"Data": b"ok", "PartitionKey": "a", "ExplicitHashKey": "0"},
                {"Data": b"bad", "PartitionKey": "b", "ExplicitHashKey": too_big},
            ],
        )
    # Nothing from the rejected request was written.
    assert read_shard(kinesis, stream_name, SHARD0) == []


def test_put_records_to_missing_stream_is_resource_not_found(kinesis, stream_name):
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.put_records(
            StreamName=stream_name, Records=[{"Data": b"x", "PartitionKey": "k"}]
        )


def test_put_records_with_501_entries_is_validation_exception(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "ValidationException",
        contains="at 'records' failed to satisfy constraint: "
        "Member must have length less than or equal to 500",
    ):
        kinesis.put_records(
            StreamName=stream_name,
            Records=[{"Data": b"x", "PartitionKey": "k"} for _ in range(501)],
        )


# --- GetShardIterator ----------------------------------------------------------------------


def test_shard_iterator_types_start_at_the_documented_positions(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    puts = [
        kinesis.put_record(
            StreamName=stream_name, Data=b"r%d" % i, PartitionKey="k", ExplicitHashKey="0"
        )
        for i in range(3)
    ]
    seqs = [p["SequenceNumber"] for p in puts]

    def datas(it):
        return [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]]

    assert datas(_iterator(kinesis, stream_name)) == [b"r0", b"r1", b"r2"]
    assert datas(
        _iterator(kinesis, stream_name, kind="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1])
    ) == [b"r1", b"r2"]
    assert datas(
        _iterator(
            kinesis, stream_name, kind="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1]
        )
    ) == [b"r2"]
    latest = _iterator(kinesis, stream_name, kind="LATEST")
    assert datas(latest) == []
    kinesis.put_record(StreamName=stream_name, Data=b"new", PartitionKey="k", ExplicitHashKey="0")
    assert datas(latest) == [b"new"]
    # AT_TIMESTAMP: a time before the first write starts at the oldest record.
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    assert datas(_iterator(kinesis, stream_name, kind="AT_TIMESTAMP", Timestamp=past)) == [
        b"r0",
        b"r1",
        b"r2",
        b"new",
    ]


def test_at_timestamp_iterator_skips_records_written_before_the_timestamp(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    kinesis.put_record(StreamName=stream_name, Data=b"old", PartitionKey="k", ExplicitHashKey="0")
    # botocore sends Timestamp as whole epoch seconds, so the mark is a second boundary
    # that falls after the first write and before the second.
    boundary = math.floor(time.time()) + 1
    time.sleep(max(0.0, boundary - time.time()) + 0.05)
    kinesis.put_record(StreamName=stream_name, Data=b"new", PartitionKey="k", ExplicitHashKey="0")
    mark = dt.datetime.fromtimestamp(boundary, dt.timezone.utc)
    it = _iterator(kinesis, stream_name, kind="AT_TIMESTAMP", Timestamp=mark)
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [b"new"]


def test_at_timestamp_in_the_future_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    with raises_aws(
        "InvalidArgumentException",
        contains="The timestampInMillis parameter cannot be greater than the "
        "currentTimestampInMillis. timestampInMillis: ",
    ):
        _iterator(kinesis, stream_name, kind="AT_TIMESTAMP", Timestamp=future)


def test_get_shard_iterator_for_unknown_shard_is_resource_not_found(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "ResourceNotFoundException",
        f"Shard shardId-000000000009 in stream {stream_name} under account {ACCOUNT} "
        "does not exist",
    ):
        _iterator(kinesis, stream_name, shard="shardId-000000000009")


def test_get_shard_iterator_for_missing_stream_names_the_shard(kinesis, stream_name):
    with raises_aws(
        "ResourceNotFoundException",
        f"Shard {SHARD0} in stream {stream_name} under account {ACCOUNT} does not exist",
    ):
        _iterator(kinesis, stream_name)


def test_trim_horizon_with_starting_sequence_number_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    seq = kinesis.put_record(
        StreamName=stream_name, Data=b"x", PartitionKey="k", ExplicitHashKey="0"
    )["SequenceNumber"]
    with raises_aws(
        "InvalidArgumentException",
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
        "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
        "Request specified TRIM_HORIZON and also a StartingSequenceNumber.",
    ):
        _iterator(kinesis, stream_name, StartingSequenceNumber=seq)


def test_at_sequence_number_without_starting_sequence_number_is_invalid_argument(
    kinesis, stream_name
):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "InvalidArgumentException",
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
        "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
        "Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.",
    ):
        _iterator(kinesis, stream_name, kind="AT_SEQUENCE_NUMBER")


def test_at_timestamp_without_timestamp_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "InvalidArgumentException",
        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
        "Current request has no timestamp parameter.",
    ):
        _iterator(kinesis, stream_name, kind="AT_TIMESTAMP")


def test_malformed_starting_sequence_number_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "InvalidArgumentException",
        f"StartingSequenceNumber 12345 used in GetShardIterator on shard {SHARD0} in stream "
        f"{stream_name} under account {ACCOUNT} is invalid.",
    ):
        _iterator(kinesis, stream_name, kind="AT_SEQUENCE_NUMBER", StartingSequenceNumber="12345")


def test_sequence_number_from_another_shard_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    seq = kinesis.put_record(
        StreamName=stream_name, Data=b"x", PartitionKey="k", ExplicitHashKey=str(MAX_HASH_KEY)
    )["SequenceNumber"]
    with raises_aws(
        "InvalidArgumentException",
        "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in "
        "a call to a shard with shardId-000000000000",
    ):
        _iterator(kinesis, stream_name, kind="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq)


def test_sequence_number_from_another_stream_is_invalid_argument(kinesis, stream_name):
    other = f"{stream_name}-other"
    create_stream(kinesis, stream_name)
    create_stream(kinesis, other)
    seq = kinesis.put_record(
        StreamName=other, Data=b"x", PartitionKey="k", ExplicitHashKey="0"
    )["SequenceNumber"]
    with raises_aws(
        "InvalidArgumentException",
        f"StartingSequenceNumber {seq} used in GetShardIterator on shard {SHARD0} in stream "
        f"{stream_name} under account {ACCOUNT} is invalid because it did not come from this "
        "stream.",
    ):
        _iterator(kinesis, stream_name, kind="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq)


# --- GetRecords ----------------------------------------------------------------------------


def test_get_records_follows_next_shard_iterator_across_pages(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    entries = [
        {"Data": b"payload-%02d" % i, "PartitionKey": f"pk{i}", "ExplicitHashKey": "0"}
        for i in range(25)
    ]
    put = kinesis.put_records(StreamName=stream_name, Records=entries)
    assert put.get("FailedRecordCount", 0) == 0
    it = _iterator(kinesis, stream_name)
    pages = []
    for _ in range(10):
        page = kinesis.get_records(ShardIterator=it, Limit=7)
        pages.append(page["Records"])
        assert page["NextShardIterator"]
        assert "ChildShards" not in page or page["ChildShards"] == []
        it = page["NextShardIterator"]
        if not page["Records"]:
            assert page["MillisBehindLatest"] == 0
            break
    assert [len(p) for p in pages] == [7, 7, 7, 4, 0]
    got = [r for p in pages for r in p]
    assert [r["Data"] for r in got] == [e["Data"] for e in entries]
    assert [r["PartitionKey"] for r in got] == [e["PartitionKey"] for e in entries]
    assert [r["SequenceNumber"] for r in got] == [r["SequenceNumber"] for r in put["Records"]]
    now = dt.datetime.now(dt.timezone.utc)
    for r in got:
        assert abs(r["ApproximateArrivalTimestamp"] - now) < dt.timedelta(minutes=1)
    # The last iterator stays usable: a new record shows up on it.
    kinesis.put_record(StreamName=stream_name, Data=b"late", PartitionKey="k", ExplicitHashKey="0")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [b"late"]


def test_get_records_from_an_empty_shard_returns_no_records_and_a_next_iterator(
    kinesis, stream_name
):
    create_stream(kinesis, stream_name)
    out = kinesis.get_records(ShardIterator=_iterator(kinesis, stream_name, shard=shard_id(1)))
    assert out["Records"] == []
    assert out["NextShardIterator"]
    assert out["MillisBehindLatest"] == 0


def test_get_records_with_garbage_iterator_is_invalid_argument(kinesis):
    with raises_aws("InvalidArgumentException", "Invalid ShardIterator."):
        kinesis.get_records(ShardIterator="not-a-real-shard-iterator")


def test_get_records_limit_above_10000_is_validation_exception(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "ValidationException",
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
    ):
        kinesis.get_records(ShardIterator=_iterator(kinesis, stream_name), Limit=10001)


def test_get_records_after_stream_deleted_is_resource_not_found(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    it = _iterator(kinesis, stream_name)
    kinesis.delete_stream(StreamName=stream_name)
    with raises_aws("ResourceNotFoundException"):
        kinesis.get_records(ShardIterator=it)
