"""The one YAML loader refuses hostile documents quickly, with ``file:line`` and exit 2, whatever the config is."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kafka_obs.cli import main
from kafka_obs.config.loader import MAX_DEPTH, MAX_NODES, ConfigError, parse_yaml

CLUSTER = "  - {name: a, region: r, environment: e, brokers: ['h:1']}\n"


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: 9 levels of 9 aliases each, about 10^9 nodes once expanded, in under 1 KiB."""
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\nclusters:\n" + CLUSTER


def check_config(tmp_path: Path, body: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    path = tmp_path / "clusters.yaml"
    path.write_text(body)
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()


def test_alias_bomb_is_refused_in_well_under_a_second_and_little_memory(tmp_path: Path) -> None:
    """In a child process, so its peak memory is its own (the loader used to need 1.5 GB and 20 s, then die).

    Line 6 is where the expansion passes the limit: 9^6 nodes.
    """
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    code = textwrap.dedent(
        f"""
        import resource, sys, time
        from kafka_obs.cli import main
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.process_time()  # CPU time: wall time on a loaded CI box says nothing about the loader
        status = main(["check-config", {str(path)!r}])
        elapsed = time.process_time() - started
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(status, elapsed, grown, file=sys.stdout)
        """
    )
    limit = 512 * 1024 * 1024  # address space: a loader that expands the bomb dies here instead of eating the box

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, preexec_fn=cap, check=False
    )
    status, elapsed, grown_kib = result.stdout.split()
    assert status == "2", result.stderr
    assert float(elapsed) < 1.0
    assert int(grown_kib) < 20 * 1024  # KiB: the refusal needs no more than a few MiB
    assert f"{path}:6: (document): more than {MAX_NODES:,} nodes once aliases are expanded" in result.stderr


def test_aliases_within_the_limit_still_work(tmp_path: Path) -> None:
    document = parse_yaml("base: &b {x: 1}\nother: *b\nmerged: {<<: *b, y: 2}\n", "f.yaml")
    assert document.data == {"base": {"x": 1}, "other": {"x": 1}, "merged": {"x": 1, "y": 2}}


def test_recursive_alias_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (line,) = check_config(tmp_path, "loop: &a\n  - x\n  - *a\nclusters:\n" + CLUSTER, capsys)
    assert line.startswith(f"{tmp_path / 'clusters.yaml'}:3: (document): alias *a is inside its own anchor")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 20_000])
def test_deep_document_exits_2_with_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], depth: int) -> None:
    body = "clusters:\n" + CLUSTER + "deep: " + "[" * depth + "]" * depth + "\n"
    (line,) = check_config(tmp_path, body, capsys)
    assert line == f"{tmp_path / 'clusters.yaml'}:3: (document): nested more than {MAX_DEPTH} levels deep"


def test_documents_at_the_limits_are_accepted() -> None:
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert parse_yaml(f"a: {nested}\n", "f.yaml").data is not None
    # 1,000 scalars, then 198 aliases of them: 199,200 nodes expanded, just under the limit
    many = "a: &a [" + ", ".join(["1"] * 999) + "]\nb: [" + ", ".join(["*a"] * 198) + "]\n"
    document = parse_yaml(many, "f.yaml")
    assert len(document.data["b"]) == 198
    assert document.positions.line_for(("b", 197, 998)) == 1  # an alias's nodes are where its anchor is


def test_config_file_that_never_ends_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "/dev/zero"]) == 2
    assert capsys.readouterr().err.strip() == "/dev/zero: (file): cannot read file: larger than 16,777,216 bytes"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("file:/dev/zero", "secret file /dev/zero is not a regular file"),
        ("file:/dev/null", "secret file /dev/null is not a regular file"),
        ("file:{dir}", "secret file {dir} is not a regular file"),
        ("file:{dir}/huge", "secret file {dir}/huge is larger than 65,536 bytes"),
        ("file:{dir}/fifo", "secret file {dir}/fifo is not a regular file"),
    ],
    ids=["dev-zero", "dev-null", "directory", "huge", "fifo"],
)
def test_unusable_secret_files_exit_2_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reference: str, expected: str
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "huge").write_bytes(b"x" * (64 * 1024 + 1))
    os.mkfifo(secrets / "fifo")
    body = (
        "clusters:\n  - name: a\n    region: r\n    environment: e\n    brokers: ['h:1']\n"
        f"    kafka:\n      sasl.password: {reference.format(dir=secrets)}\n"
    )
    started = time.perf_counter()
    (line,) = check_config(tmp_path, body, capsys)
    assert time.perf_counter() - started < 5
    assert line == f"{tmp_path / 'clusters.yaml'}:7: clusters[0].kafka.sasl.password: {expected.format(dir=secrets)}"


def test_non_utf8_secret_file_error_reveals_no_byte_of_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "s3cr3t-\xe9t\xe9-42".encode("latin-1")  # é as latin-1: 0xe9, invalid UTF-8
    (tmp_path / "pw").write_bytes(secret)
    body = "clusters:\n  - name: a\n    region: r\n    environment: e\n    brokers: ['h:1']\n"
    body += f"    jmx: {{username: u, password: 'file:{tmp_path / 'pw'}'}}\n"
    (line,) = check_config(tmp_path, body, capsys)
    path = tmp_path / "clusters.yaml"
    assert line == f"{path}:6: clusters[0].jmx.password: secret file {tmp_path / 'pw'} is not UTF-8 text"
    for token in ("0xe9", "\\xe9", "s3cr3t", "position", "byte"):
        assert token not in line


def test_two_clusters_sharing_a_broker_are_refused_with_both_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = textwrap.dedent(
        """
        clusters:
          - {name: a, region: r, environment: e, brokers: ["k1:9092", "k2:9092"]}
          - {name: b, region: r, environment: e, brokers: ["k3:9092", "K2:9092"]}
        """
    )
    (line,) = check_config(tmp_path, body, capsys)
    assert line.startswith(f"{tmp_path / 'clusters.yaml'}:4: clusters[1].brokers[1]: broker 'K2:9092' is also ")
    assert "clusters[0].brokers[1]" in line


def test_loader_errors_are_config_errors_not_pyyaml_exceptions() -> None:
    with pytest.raises(ConfigError):
        parse_yaml("a: " + "[" * 5000, "f.yaml")
