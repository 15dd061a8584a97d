"""Shared expectations for the compatibility tests (AWS texts from KINESIS_SPEC.md)."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "000000000000"
MAX_HASH_KEY = 2**128 - 1


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def not_found(name: str) -> str:
    return f"Stream {name} under account {ACCOUNT} not found."


def md5_hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def uniform_ranges(n: int) -> list[tuple[int, int]]:
    """CreateStream's hash key ranges for n shards (spec §3.1)."""
    step = 2**128 // n
    return [(step * i, MAX_HASH_KEY if i == n - 1 else step * (i + 1) - 1) for i in range(n)]


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def shard_for_key(shards: list[dict], hash_key: int) -> str:
    """The open shard whose HashKeyRange contains hash_key."""
    owners = [
        s["ShardId"]
        for s in shards
        if int(s["HashKeyRange"]["StartingHashKey"])
        <= hash_key
        <= int(s["HashKeyRange"]["EndingHashKey"])
        and "EndingSequenceNumber" not in s["SequenceNumberRange"]
    ]
    assert len(owners) == 1, f"hash key {hash_key} owned by {owners}"
    return owners[0]


@contextmanager
def raises_aws(code: str, message: str | None = None, contains: str | None = None):
    """Expects a ClientError with HTTP 400, the given code and (optionally) message."""
    with pytest.raises(ClientError) as info:
        yield info
    err = info.value.response["Error"]
    status = info.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert (err.get("Code"), status) == (code, 400), info.value.response
    if message is not None:
        assert err.get("Message") == message
    if contains is not None:
        assert contains in err.get("Message", ""), err.get("Message")


def create_stream(kinesis, name: str, shards: int = 2, **kwargs) -> None:
    """Creates a provisioned stream and waits until it is ACTIVE."""
    kinesis.create_stream(StreamName=name, ShardCount=shards, **kwargs)
    wait_active(kinesis, name)


def wait_active(kinesis, name: str) -> None:
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )


def read_shard(kinesis, name: str, shard: str, limit: int | None = None) -> list[dict]:
    """Every record in a shard from TRIM_HORIZON until a page comes back empty."""
    it = kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    out: list[dict] = []
    for _ in range(1000):
        kw = {"Limit": limit} if limit else {}
        page = kinesis.get_records(ShardIterator=it, **kw)
        out.extend(page["Records"])
        it = page.get("NextShardIterator")
        if not page["Records"] or it is None:
            return out
    raise AssertionError("shard never ran dry")
