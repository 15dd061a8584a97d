"""boto3: stream tags by name (AddTagsToStream & co.) and by ARN (TagResource & co.)."""

from __future__ import annotations

import pytest

from kinesis_helpers import (
    ACCOUNT,
    create_stream,
    not_found,
    raises_aws,
    stream_arn,
)


def _by_key(tags):
    return sorted(tags, key=lambda t: t["Key"])


def test_add_list_remove_tags_for_stream_round_trip(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    assert kinesis.list_tags_for_stream(StreamName=stream_name)["Tags"] == []
    kinesis.add_tags_to_stream(StreamName=stream_name, Tags={"b": "2", "a": "1", "c": ""})
    out = kinesis.list_tags_for_stream(StreamName=stream_name)
    assert _by_key(out["Tags"]) == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": "2"},
        {"Key": "c", "Value": ""},
    ]
    assert out["HasMoreTags"] is False
    # Adding an existing key overwrites its value.
    kinesis.add_tags_to_stream(StreamName=stream_name, Tags={"a": "one"})
    kinesis.remove_tags_from_stream(StreamName=stream_name, TagKeys=["b", "not-there"])
    out = kinesis.list_tags_for_stream(StreamARN=stream_arn(stream_name))
    assert _by_key(out["Tags"]) == [{"Key": "a", "Value": "one"}, {"Key": "c", "Value": ""}]


def test_list_tags_for_stream_pages_with_limit_and_exclusive_start_tag_key(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    kinesis.add_tags_to_stream(StreamName=stream_name, Tags={f"k{i}": f"v{i}" for i in range(5)})
    first = kinesis.list_tags_for_stream(StreamName=stream_name, Limit=2)
    assert [t["Key"] for t in first["Tags"]] == ["k0", "k1"]
    assert first["HasMoreTags"] is True
    rest = kinesis.list_tags_for_stream(
        StreamName=stream_name, ExclusiveStartTagKey="k1", Limit=10
    )
    assert [t["Key"] for t in rest["Tags"]] == ["k2", "k3", "k4"]
    assert rest["HasMoreTags"] is False


def test_tag_resource_by_stream_arn_round_trip(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    resource = stream_arn(stream_name)
    assert kinesis.list_tags_for_resource(ResourceARN=resource).get("Tags", []) == []
    kinesis.tag_resource(ResourceARN=resource, Tags={"team": "data", "env": "dev"})
    tags = kinesis.list_tags_for_resource(ResourceARN=resource)["Tags"]
    assert _by_key(tags) == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "data"}]
    # The same tags are visible through the stream-name API, and vice versa.
    assert _by_key(kinesis.list_tags_for_stream(StreamName=stream_name)["Tags"]) == _by_key(tags)
    kinesis.untag_resource(ResourceARN=resource, TagKeys=["env"])
    assert kinesis.list_tags_for_resource(ResourceARN=resource)["Tags"] == [
        {"Key": "team", "Value": "data"}
    ]
    kinesis.add_tags_to_stream(StreamName=stream_name, Tags={"x": "y"})
    assert _by_key(kinesis.list_tags_for_resource(ResourceARN=resource)["Tags"]) == [
        {"Key": "team", "Value": "data"},
        {"Key": "x", "Value": "y"},
    ]


def test_tag_resource_for_missing_stream_is_resource_not_found(kinesis, stream_name):
    with raises_aws("ResourceNotFoundException"):
        kinesis.tag_resource(ResourceARN=stream_arn(stream_name), Tags={"a": "b"})
    with raises_aws("ResourceNotFoundException"):
        kinesis.list_tags_for_resource(ResourceARN=stream_arn(stream_name))


def test_tag_operations_on_missing_stream_are_resource_not_found(kinesis, stream_name):
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.add_tags_to_stream(StreamName=stream_name, Tags={"a": "b"})
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.list_tags_for_stream(StreamName=stream_name)
    with raises_aws("ResourceNotFoundException", not_found(stream_name)):
        kinesis.remove_tags_from_stream(StreamName=stream_name, TagKeys=["a"])


def test_add_tags_with_invalid_characters_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "InvalidArgumentException",
        "Some tags contain invalid characters. Valid characters: "
        "Unicode letters, digits, white space, _ . / = + - % @.",
    ):
        kinesis.add_tags_to_stream(StreamName=stream_name, Tags={"bad!key": "v"})
    with raises_aws(
        "InvalidArgumentException",
        f"Failed to add tags to stream {stream_name} under account {ACCOUNT} because some "
        "tags contained illegal characters. The allowed characters are Unicode letters, "
        "white-spaces, '_',',','/','=','+','-','@'.",
    ):
        kinesis.add_tags_to_stream(StreamName=stream_name, Tags={"percent%": "v"})
    assert kinesis.list_tags_for_stream(StreamName=stream_name)["Tags"] == []


def test_add_more_than_10_tags_in_one_call_is_validation_exception(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "ValidationException",
        contains="at 'tags' failed to satisfy constraint: "
        "Member must have length less than or equal to 10",
    ):
        kinesis.add_tags_to_stream(
            StreamName=stream_name, Tags={f"k{i}": "v" for i in range(11)}
        )


def test_list_tags_for_stream_limit_above_50_is_validation_exception(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    with raises_aws(
        "ValidationException",
        "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 50",
    ):
        kinesis.list_tags_for_stream(StreamName=stream_name, Limit=51)


def test_more_than_50_tags_on_a_stream_is_invalid_argument(kinesis, stream_name):
    create_stream(kinesis, stream_name)
    for batch in range(5):
        kinesis.add_tags_to_stream(
            StreamName=stream_name, Tags={f"k{batch}-{i}": "v" for i in range(10)}
        )
    with raises_aws(
        "InvalidArgumentException",
        f"Failed to add tags to stream {stream_name} under account {ACCOUNT} because a given "
        "stream cannot have more than 10 tags associated with it.",
    ):
        kinesis.add_tags_to_stream(StreamName=stream_name, Tags={"one-too-many": "v"})
    assert len(kinesis.list_tags_for_stream(StreamName=stream_name)["Tags"]) == 50
