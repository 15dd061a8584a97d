"""Resharding as a newcomer types it with the AWS CLI (the transcript of the resharding issue)."""

from __future__ import annotations

MAX = "340282366920938463463374607431768211455"


def shard_map(aws, stream: str) -> dict:
    shards = aws(f"aws kinesis describe-stream --stream-name {stream}").json["StreamDescription"]["Shards"]
    return {s["ShardId"]: s for s in shards}


def hash_range(shard: dict) -> tuple[str, str]:
    r = shard["HashKeyRange"]
    return r["StartingHashKey"], r["EndingHashKey"]


def test_cli_split_split_merge_transcript_builds_the_expected_shard_map(aws):
    aws("aws kinesis create-stream --stream-name examplestream --shard-count 1")
    aws(
        "aws kinesis split-shard --stream-name examplestream --shard-to-split shardId-000000000000 "
        "--new-starting-hash-key 170141183460469231731687303715884105727"
    )
    shards = shard_map(aws, "examplestream")
    assert "EndingSequenceNumber" in shards["shardId-000000000000"]["SequenceNumberRange"]
    assert hash_range(shards["shardId-000000000001"]) == ("0", "170141183460469231731687303715884105726")
    assert hash_range(shards["shardId-000000000002"]) == ("170141183460469231731687303715884105727", MAX)
    for child in ("shardId-000000000001", "shardId-000000000002"):
        assert shards[child]["ParentShardId"] == "shardId-000000000000"
        assert "AdjacentParentShardId" not in shards[child]

    aws(
        "aws kinesis split-shard --stream-name examplestream --shard-to-split shardId-000000000001 "
        "--new-starting-hash-key 85070591730234615865843651857942052863"
    )
    shards = shard_map(aws, "examplestream")
    assert "EndingSequenceNumber" in shards["shardId-000000000001"]["SequenceNumberRange"]
    assert hash_range(shards["shardId-000000000003"]) == ("0", "85070591730234615865843651857942052862")
    assert hash_range(shards["shardId-000000000004"]) == (
        "85070591730234615865843651857942052863",
        "170141183460469231731687303715884105726",
    )
    assert shards["shardId-000000000003"]["ParentShardId"] == "shardId-000000000001"

    again = aws(
        "aws kinesis split-shard --stream-name examplestream --shard-to-split shardId-000000000000 "
        "--new-starting-hash-key 5",
        check=False,
    )
    assert again.returncode != 0
    assert "InvalidArgumentException" in again.stderr
    assert (
        "Shard shardId-000000000000 in stream examplestream under account 000000000000 has already been "
        "merged or split, and thus is not eligible for merging or splitting." in again.stderr
    )

    aws(
        "aws kinesis merge-shards --stream-name examplestream --shard-to-merge shardId-000000000003 "
        "--adjacent-shard-to-merge shardId-000000000004"
    )
    shards = shard_map(aws, "examplestream")
    merged = shards["shardId-000000000005"]
    assert merged["ParentShardId"] == "shardId-000000000003"
    assert merged["AdjacentParentShardId"] == "shardId-000000000004"
    assert hash_range(merged) == ("0", "170141183460469231731687303715884105726")
    assert "EndingSequenceNumber" not in merged["SequenceNumberRange"]

    apart = aws(
        "aws kinesis merge-shards --stream-name examplestream --shard-to-merge shardId-000000000005 "
        "--adjacent-shard-to-merge shardId-000000000005",
        check=False,
    )
    assert apart.returncode != 0
    assert (
        "Shards shardId-000000000005 and shardId-000000000005 in stream examplestream under account "
        "000000000000 are not an adjacent pair of shards eligible for merging" in apart.stderr
    )
