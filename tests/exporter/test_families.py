"""Families as columns: what the hot loops append directly is checked at build, and rows share label tuples."""

from __future__ import annotations

import pytest

from kafka_obs.exporter.families import FamilyBuilder, PartitionLabels, find


def test_columns_and_add_make_the_same_family() -> None:
    out = FamilyBuilder()
    labels, values = out.columns("kafka_consumergroup_lag")
    labels.append(("g", "t", "0"))
    values.append(5)
    out.add("kafka_consumergroup_lag", 7, "g", "t", "1")
    (family,) = out.build()
    assert family.samples == ((("g", "t", "0"), 5), (("g", "t", "1"), 7))
    assert list(find([family], "kafka_consumergroup_lag")) == list(family.samples)


def test_a_wrong_label_count_in_the_columns_fails_the_build_naming_the_metric() -> None:
    out = FamilyBuilder()
    labels, values = out.columns("kafka_consumergroup_lag")
    labels.append(("g", "t"))
    values.append(1)
    with pytest.raises(ValueError, match=r"kafka_consumergroup_lag takes labels .*got \('g', 't'\)"):
        out.build()


def test_columns_out_of_step_fail_the_build() -> None:
    out = FamilyBuilder()
    labels, _ = out.columns("kafka_topic_partition_leader")
    labels.append(("t", "0"))
    with pytest.raises(ValueError, match="1 label tuples for 0 values"):
        out.build()


def test_add_still_refuses_a_wrong_label_count_at_once() -> None:
    with pytest.raises(ValueError, match="kafka_consumergroup_lag takes labels"):
        FamilyBuilder().add("kafka_consumergroup_lag", 1, "g")


def test_columns_never_added_to_make_no_family() -> None:
    out = FamilyBuilder()
    out.columns("kafka_consumergroup_lag")
    out.add("kafka_brokers", 3)
    assert [f.name for f in out.build()] == ["kafka_brokers"]


def test_a_partition_label_is_one_string_per_id() -> None:
    labels = PartitionLabels()
    assert labels[7] == "7"
    assert labels[7] is labels[7]
