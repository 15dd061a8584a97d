"""KPL aggregation format interop: nagare-agg against the reference `aws-kinesis-agg` (PyPI).

Records aggregated by nagare-agg are de-aggregated by `aws_kinesis_agg.deaggregator`, and
records aggregated by `aws_kinesis_agg.aggregator.RecordAggregator` are de-aggregated by
nagare-agg, byte for byte (partition key, explicit hash key, data, sub-sequence number). The
Rust side runs as `agg_tool` (crates/nagare-agg/examples/agg_tool.rs), JSON on stdin/stdout.

Environment:
  NAGARE_AGG_TOOL  the tool (default: <repo>/target/debug/examples/agg_tool; build it with
                   `cargo build -p nagare-agg --examples`)
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
from pathlib import Path

import pytest
from aws_kinesis_agg.aggregator import RecordAggregator
from aws_kinesis_agg.deaggregator import deaggregate_records

REPO = Path(__file__).resolve().parents[2]


def _tool() -> Path:
    path = Path(
        os.environ.get("NAGARE_AGG_TOOL")
        or REPO / "target" / "debug" / "examples" / "agg_tool"
    )
    if not path.is_file():
        pytest.fail(
            f"agg_tool not found at {path}: run `cargo build -p nagare-agg --examples` "
            "or set NAGARE_AGG_TOOL"
        )
    return path


def run_tool(mode: str, payload) -> object:
    proc = subprocess.run(
        [str(_tool()), mode],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"agg_tool {mode} failed: {proc.stderr}"
    return json.loads(proc.stdout)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def make_records(seed: int, n: int, with_ehk: bool) -> list[tuple[str, bytes, str | None]]:
    """(partition key, data, explicit hash key): unicode keys, repeated keys, empty data."""
    rng = random.Random(seed)
    keys = ["k", "ключ", "鍵-1", "a" * 256, "emoji-\U0001f600"] + [
        f"pk-{i}" for i in range(n)
    ]
    records = []
    for i in range(n):
        pk = rng.choice(keys)
        size = rng.choice([0, 1, 100, 1000, 5000])
        data = bytes(rng.getrandbits(8) for _ in range(size))
        ehk = str(rng.randrange(2**128)) if with_ehk else None
        records.append((pk, data, ehk))
    return records


def lambda_event_record(data: bytes, partition_key: str, seq: str) -> dict:
    """A Kinesis record as Lambda delivers it (the format `deaggregate_records` takes)."""
    return {
        "eventSource": "aws:kinesis",
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": seq,
            "approximateArrivalTimestamp": 1_700_000_000.0,
            "data": b64(data),
        },
    }


def python_aggregate(records, max_size: int = 1024 * 1024) -> list[tuple[str, str | None, bytes]]:
    """Aggregates with RecordAggregator; returns the (pk, ehk, data) of each aggregated record."""
    agg = RecordAggregator(max_size=max_size)
    out = []
    for pk, data, ehk in records:
        full = agg.add_user_record(pk, data, ehk)
        if full is not None:
            out.append(full.get_contents())
    last = agg.clear_and_get()
    if last is not None:
        out.append(last.get_contents())
    return out


@pytest.mark.parametrize("with_ehk", [False, True], ids=["md5-keys", "explicit-hash-keys"])
def test_reference_deaggregator_reads_nagare_aggregates(with_ehk):
    # The reference deaggregator assigns explicit_hash_key_table[0] to records without an
    # explicit hash key whenever the table is not empty, so each aggregate here uses explicit
    # hash keys for all of its records or for none.
    records = make_records(seed=7 + with_ehk, n=300, with_ehk=with_ehk)
    agg = run_tool(
        "aggregate",
        [
            {"partition_key": pk, "explicit_hash_key": ehk, "data": b64(data)}
            for pk, data, ehk in records
        ],
    )
    data = base64.b64decode(agg["data"])
    assert data[:4] == b"\xf3\x89\x9a\xc2"

    users = deaggregate_records([lambda_event_record(data, "a", "49590338271490256608559692538361571095921575989136588898")])
    assert len(users) == len(records)
    for i, (user, (pk, payload, ehk)) in enumerate(zip(users, records)):
        k = user["kinesis"]
        assert k["aggregated"] is True
        assert k["subSequenceNumber"] == i
        assert k["partitionKey"] == pk
        assert k["explicitHashKey"] == ehk
        assert base64.b64decode(k["data"]) == payload


def test_nagare_deaggregates_reference_aggregates():
    records = make_records(seed=11, n=400, with_ehk=False)
    # Give every third record an explicit hash key: nagare-agg handles mixed aggregates.
    records = [
        (pk, data, str(random.Random(i).randrange(2**128)) if i % 3 == 0 else None)
        for i, (pk, data, _) in enumerate(records)
    ]
    # A small max size splits the input into several aggregated records.
    aggregates = python_aggregate(records, max_size=50_000)
    assert len(aggregates) > 1
    users = run_tool(
        "deaggregate",
        [{"partition_key": pk, "data": b64(data)} for pk, _ehk, data in aggregates],
    )
    assert len(users) == len(records)
    # Sub-sequence numbers restart at 0 in each aggregate: take them from the reference.
    theirs = deaggregate_records(
        [lambda_event_record(data, pk, str(i)) for i, (pk, _ehk, data) in enumerate(aggregates)]
    )
    assert [t["kinesis"]["subSequenceNumber"] for t in theirs] == [
        u["sub_sequence_number"] for u in users
    ]
    assert theirs[-1]["kinesis"]["subSequenceNumber"] > 0
    for user, (pk, payload, ehk) in zip(users, records):
        assert user["aggregated"] is True
        assert user["partition_key"] == pk
        assert user["explicit_hash_key"] == ehk
        assert base64.b64decode(user["data"]) == payload
    # Outer keys: the reference uses the first user record's keys for the aggregate.
    assert aggregates[0][0] == records[0][0]


def test_same_records_aggregate_to_identical_bytes():
    records = make_records(seed=3, n=200, with_ehk=False)
    records = [(pk, data, "12345" if i % 2 else None) for i, (pk, data, _) in enumerate(records)]
    (theirs,) = python_aggregate(records)
    ours = run_tool(
        "aggregate",
        [{"partition_key": pk, "explicit_hash_key": ehk, "data": b64(data)} for pk, data, ehk in records],
    )
    assert base64.b64decode(ours["data"]) == theirs[2]


def test_plain_and_corrupt_records_pass_through_both_ways():
    good = base64.b64decode(
        run_tool("aggregate", [{"partition_key": "k", "data": b64(b"x")}, {"partition_key": "k", "data": b64(b"y")}])["data"]
    )
    corrupt = good[:-1] + bytes([good[-1] ^ 0xFF])  # MD5 mismatch
    inputs = [b"", b"abc", b"plain text record", b"\xf3\x89\x9a\xc2" + b"\x00" * 16, corrupt]
    theirs = deaggregate_records([lambda_event_record(d, f"pk{i}", str(i)) for i, d in enumerate(inputs)])
    ours = run_tool("deaggregate", [{"partition_key": f"pk{i}", "data": b64(d)} for i, d in enumerate(inputs)])
    assert len(theirs) == len(ours) == len(inputs)
    for i, (t, o, d) in enumerate(zip(theirs, ours, inputs)):
        assert "aggregated" not in t["kinesis"]
        assert base64.b64decode(t["kinesis"]["data"]) == d
        assert o == {
            "partition_key": f"pk{i}",
            "explicit_hash_key": None,
            "data": b64(d),
            "sub_sequence_number": 0,
            "aggregated": False,
        }
