"""omium's key -> partition agrees with Kafka's Java client.

The expected values were printed by ``org.apache.kafka.common.utils.Utils.murmur2`` from
kafka-clients 4.4.0 (the jar ``make test`` downloads): ``toPositive(murmur2(key)) % n``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omium.producers import murmur2, partition_for

JAVA = [
    ("", 275646681, 9, 0),
    ("a", -1563381124, 4, 1),
    ("ab", 316155434, 2, 2),
    ("abc", 479470107, 3, 0),
    ("21", -973932308, 0, 0),
    ("foobar", -790332482, 6, 0),
    ("exec-42", -2098318828, 4, 1),
    ("a-little-bit-long-string", -985981536, 8, 2),
    ("a-little-bit-longer-string", -1486304829, 11, 2),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, 5, 2),
    ("01JDXK3M7Q9ZB2V4W6Y8A0C1E3", -741109433, 3, 0),
    ("héllo-wörld-ü", 1634288330, 2, 2),
]


@pytest.mark.parametrize(
    ("key", "hash_", "of12", "of3"), JAVA, ids=[k or "empty" for k, *_ in JAVA]
)
def test_murmur2__matches_kafkas_java_client(key: str, hash_: int, of12: int, of3: int) -> None:
    assert murmur2(key.encode()) == hash_
    assert partition_for(key, 12) == of12
    assert partition_for(key, 3) == of3


@given(st.binary(max_size=64))
def test_murmur2__matches_aiokafkas_implementation(data: bytes) -> None:
    from aiokafka.partitioner import murmur2 as aiokafka_murmur2

    assert murmur2(data) & 0x7FFFFFFF == aiokafka_murmur2(data) & 0x7FFFFFFF


@given(st.text(max_size=40), st.integers(1, 500))
def test_partition_for__is_in_range(key: str, partitions: int) -> None:
    assert 0 <= partition_for(key, partitions) < partitions


def test_partition_for__refuses_zero_partitions() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for("k", 0)
