"""The AWS CLI (v1, from the pinned virtualenv) against nagare, as a newcomer would use it."""

from __future__ import annotations

import base64
import re
import shlex

import awscli

from kinesis_helpers import ACCOUNT, MAX_HASH_KEY, create_stream, stream_arn

# The commands from the getting-started walkthrough, verbatim. The get-records line gets the
# iterator that get-shard-iterator printed.
CREATE_FOO = "aws kinesis create-stream --stream-name Foo --shard-count 1"
PUT_FOO = "aws kinesis put-record --stream-name Foo --partition-key 123 --data testdata"
ITERATOR_FOO = (
    "aws kinesis get-shard-iterator --shard-id shardId-000000000000 "
    "--shard-iterator-type TRIM_HORIZON --stream-name Foo"
)
GET_RECORDS = "aws kinesis get-records --shard-iterator {iterator}"
DESCRIBE_FOO = "aws kinesis describe-stream --stream-name Foo"

SEQ = re.compile(r"^(0|[1-9]\d{0,128})$")


def cli_data_bytes(text: str) -> bytes:
    """The bytes the installed CLI stores for `--data <text>`.

    AWS CLI v1 treats a blob argument as raw text and base64-encodes it on the wire (unless
    the config sets cli_binary_format, which our /dev/null config does not); v2 would decode
    the argument as base64 instead.
    """
    assert awscli.__version__.startswith("1."), awscli.__version__
    return text.encode("utf-8")


def assert_record_round_trip(records: dict, put: dict, data: bytes, key: str) -> None:
    assert len(records["Records"]) == 1, records
    rec = records["Records"][0]
    # The CLI prints blobs base64-encoded: "testdata" comes back as "dGVzdGRhdGE=".
    assert rec["Data"] == base64.b64encode(data).decode("ascii")
    assert base64.b64decode(rec["Data"]) == data
    assert rec["PartitionKey"] == key
    assert rec["SequenceNumber"] == put["SequenceNumber"]
    assert isinstance(rec["ApproximateArrivalTimestamp"], (int, float))
    assert rec.get("EncryptionType", "NONE") == "NONE"
    assert records["NextShardIterator"]
    assert records["MillisBehindLatest"] == 0


def test_newcomer_cli_walkthrough_puts_and_gets_testdata_on_stream_foo(aws, kinesis):
    assert aws(CREATE_FOO).stdout.strip() == ""

    put = aws(PUT_FOO).json
    assert put["ShardId"] == "shardId-000000000000"
    assert SEQ.match(put["SequenceNumber"]), put
    assert put.get("EncryptionType", "NONE") == "NONE"

    iterator = aws(ITERATOR_FOO).json["ShardIterator"]
    assert isinstance(iterator, str) and 1 <= len(iterator) <= 512

    records = aws(GET_RECORDS.format(iterator=shlex.quote(iterator))).json
    assert_record_round_trip(records, put, cli_data_bytes("testdata"), "123")
    assert records["Records"][0]["Data"] == "dGVzdGRhdGE="
    # boto3 sees the same bytes the CLI stored.
    got = kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [r["Data"] for r in got] == [b"testdata"]

    desc = aws(DESCRIBE_FOO).json["StreamDescription"]
    assert desc["StreamName"] == "Foo"
    assert desc["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/Foo"
    assert desc["StreamStatus"] == "ACTIVE"
    assert desc["RetentionPeriodHours"] == 24
    assert desc["EncryptionType"] == "NONE"
    assert desc["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    assert isinstance(desc["StreamCreationTimestamp"], (int, float))
    assert len(desc["Shards"]) == 1
    shard = desc["Shards"][0]
    assert shard["ShardId"] == "shardId-000000000000"
    assert shard["HashKeyRange"] == {
        "StartingHashKey": "0",
        "EndingHashKey": "340282366920938463463374607431768211455",
    }
    assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]
    assert int(shard["SequenceNumberRange"]["StartingSequenceNumber"]) <= int(
        put["SequenceNumber"]
    )


def test_cli_put_record_get_records_describe_round_trip_on_two_shard_stream(aws, stream_name):
    """The walkthrough's commands on a two-shard stream, where routing picks the shard."""
    s = shlex.quote(stream_name)
    assert aws(f"aws kinesis create-stream --stream-name {s} --shard-count 2").stdout.strip() == ""

    put = aws(f"aws kinesis put-record --stream-name {s} --partition-key 123 --data testdata").json
    # md5("123") = 202cb962… < 2^127, so the key belongs to the first of two shards.
    assert put["ShardId"] == "shardId-000000000000"
    assert SEQ.match(put["SequenceNumber"]), put

    iterator = aws(
        f"aws kinesis get-shard-iterator --shard-id {put['ShardId']} "
        f"--shard-iterator-type TRIM_HORIZON --stream-name {s}"
    ).json["ShardIterator"]
    records = aws(GET_RECORDS.format(iterator=shlex.quote(iterator))).json
    assert_record_round_trip(records, put, cli_data_bytes("testdata"), "123")
    assert records["Records"][0]["Data"] == "dGVzdGRhdGE="

    desc = aws(f"aws kinesis describe-stream --stream-name {s}").json["StreamDescription"]
    assert desc["StreamARN"] == stream_arn(stream_name)
    assert desc["StreamStatus"] == "ACTIVE"
    assert desc["RetentionPeriodHours"] == 24
    assert [sh["HashKeyRange"] for sh in desc["Shards"]] == [
        {"StartingHashKey": "0", "EndingHashKey": str(2**127 - 1)},
        {"StartingHashKey": str(2**127), "EndingHashKey": str(MAX_HASH_KEY)},
    ]


def test_cli_put_records_shorthand_returns_one_result_per_entry(aws, kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=2)
    out = aws(
        [
            "aws", "kinesis", "put-records", "--stream-name", stream_name,
            "--records", "Data=one,PartitionKey=a", "Data=two,PartitionKey=b",
        ]
    ).json
    assert out.get("FailedRecordCount", 0) == 0
    assert len(out["Records"]) == 2
    for r in out["Records"]:
        assert set(r) >= {"ShardId", "SequenceNumber"} and "ErrorCode" not in r


def test_cli_describe_missing_stream_prints_resource_not_found(aws, stream_name):
    res = aws(["aws", "kinesis", "describe-stream", "--stream-name", stream_name], check=False)
    assert res.returncode == 255, res
    # With AWS_MAX_ATTEMPTS=1 the CLI adds "(reached max retries: 0)" after the operation.
    assert re.search(
        r"An error occurred \(ResourceNotFoundException\) when calling the DescribeStream "
        r"operation( \(reached max retries: \d+\))?: "
        + re.escape(f"Stream {stream_name} under account {ACCOUNT} not found.")
        + "\n",
        res.stderr,
    ), res.stderr


def test_cli_list_streams_auto_paginates_over_all_streams(aws, kinesis, stream_name):
    names = [f"{stream_name}-{i}" for i in range(3)]
    for n in names:
        create_stream(kinesis, n, shards=2)
    out = aws("aws kinesis list-streams --page-size 1").json
    listed = out["StreamNames"]
    assert [n for n in listed if n in names] == names
    assert listed == sorted(listed)
    assert len(listed) == len(set(listed))


def test_cli_tags_round_trip(aws, kinesis, stream_name):
    create_stream(kinesis, stream_name, shards=2)
    aws(["aws", "kinesis", "add-tags-to-stream", "--stream-name", stream_name,
         "--tags", "team=data,env=dev"])
    out = aws(["aws", "kinesis", "list-tags-for-stream", "--stream-name", stream_name]).json
    assert sorted(out["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "env", "Value": "dev"},
        {"Key": "team", "Value": "data"},
    ]
    assert out["HasMoreTags"] is False
