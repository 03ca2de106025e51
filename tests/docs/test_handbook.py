"""The operator's handbook and the ADRs quote commands, flags, make targets, repository paths, links and PromQL;
each must still exist, or the documents rot silently while the code moves under them.

A reader copies `kafka-obs exporter --region us-east-1` or opens `bench/results/demo-acme-footprint.json`; these
tests resolve every such quote against the real thing — the CLI's own argparse tree (`kafka_obs.cli.build_parser`),
the Makefile's targets, the checkout, the headings of the linked documents, and promtool for PromQL — and the
synthetic documents below prove each check fails on a wrong quote.
"""

from __future__ import annotations

import argparse
import html
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kafka_obs.cli import build_parser
from tests.conftest import REPO

DOCUMENTS = sorted([*(REPO / "docs" / "handbook").glob("*.md"), *(REPO / "docs" / "adr").glob("*.md")])
TOP_LEVEL_FILES_WITHOUT_SLASH = {"Makefile", "Dockerfile", "README.md", "docker-compose.yml", "constraints.txt"}
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "2>&1", "\\"}
PATH_TOKEN = re.compile(r"^[\w.*-]+(?:/[\w.*-]*)*$")
FENCE = re.compile(r"^```(\w*)\s*$")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Fragment:
    """A piece of code quoted in a document: an inline code span or one line of a fenced block."""

    line: int
    text: str
    language: str | None  # None for inline code


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def fragments(text: str) -> Iterator[Fragment]:
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = FENCE.match(line)
        if opening and fence is None:
            fence = opening.group(1) or "text"
            continue
        if line.startswith("```") and fence is not None:
            fence = None
            continue
        if fence is not None:
            yield Fragment(number, line, fence)
        else:
            for match in INLINE_CODE.finditer(line):
                yield Fragment(number, match.group(2), None)


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines outside fenced blocks, with inline code removed (a link inside code is not a link)."""
    fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            fence = not fence
            continue
        if not fence:
            yield number, INLINE_CODE.sub("", line)


def tokens(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:  # an unbalanced quote in a fragment of a longer command
        return text.split()


def subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def check_command(words: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Walk `kafka-obs SUB [ACTION] --flags ...` down the real argparse tree; flag values are not judged."""
    errors = []
    current = parser
    path = "kafka-obs"
    expecting_action = True
    for word in words:
        if word in SHELL_OPERATORS or word.startswith("#"):
            break
        choices = subparsers(current)
        if word.startswith("-"):
            flag = word.split("=", 1)[0]
            if flag not in current._option_string_actions:
                errors.append(f"`{path}` has no option {flag}")
            expecting_action = False
        elif choices is not None and expecting_action:
            if word not in choices.choices:
                errors.append(f"`{path}` has no subcommand {word!r} (known: {', '.join(choices.choices)})")
                break
            current = choices.choices[word]
            path = f"{path} {word}"
    return errors


def commands_in(fragment: Fragment) -> Iterator[list[str]]:
    words = tokens(fragment.text)
    for i, word in enumerate(words):
        if (word == "kafka-obs" or word.endswith("/kafka-obs")) and i + 1 < len(words):
            yield words[i + 1 :]


def make_targets(makefile: Path) -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", makefile.read_text(), re.M))


def path_candidates(text: str, top_level: set[str]) -> Iterator[str]:
    for raw in re.split(r"[\s,;()\[\]{}\"'=|<>`]+", text):
        token = re.sub(r":\d.*$", "", raw.split("#", 1)[0]).rstrip(".:")
        if not token or not PATH_TOKEN.match(token):
            continue
        first = token.split("/", 1)[0]
        if first in top_level and ("/" in token or token in TOP_LEVEL_FILES_WITHOUT_SLASH):
            yield token


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, punctuation dropped, spaces to hyphens, lower case."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    fence = False
    for line in document.read_text().splitlines():
        if line.startswith("```"):
            fence = not fence
        match = None if fence else HEADING.match(line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            out.add(base if count == 0 else f"{base}-{count}")
    return out


def check_document(document: Path, repo: Path, parser: argparse.ArgumentParser) -> list[Problem]:
    text = document.read_text()
    top_level = {entry.name for entry in repo.iterdir() if not entry.name.startswith(".")}
    targets = make_targets(repo / "Makefile")
    problems: list[Problem] = []
    for fragment in fragments(text):
        if fragment.language not in ("mermaid", "dot"):
            for words in commands_in(fragment):
                problems += [Problem(fragment.line, error) for error in check_command(words, parser)]
            words = tokens(fragment.text)
            for i, word in enumerate(words[:-1]):
                target = words[i + 1]
                if word == "make" and not target.startswith("-") and target not in targets:
                    problems.append(Problem(fragment.line, f"the Makefile has no target {target!r}"))
        for candidate in path_candidates(fragment.text, top_level):
            if not any(repo.glob(candidate)) and not (repo / candidate).exists():
                problems.append(Problem(fragment.line, f"no such path in the repository: {candidate}"))
    for number, line in prose_lines(text):
        for match in LINK.finditer(line):
            target = match.group(1) or match.group(2)
            if re.match(r"^[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (document.parent / file_part).resolve() if file_part else document
            if not linked.exists():
                problems.append(Problem(number, f"broken link: {target}"))
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(Problem(number, f"no heading for the anchor: {target}"))
    return problems


OPERATORS = ("unless", "and", "or", "*", "/", "+", "-", ")", "on", "group_left", "group_right", "ignoring", ">", "<")


def promql_expressions(text: str) -> Iterator[tuple[int, str]]:
    """Expressions of the ```promql blocks: a new one starts at an unindented line that is not a continuation."""
    for fragment_block in re.finditer(r"```promql\n(.*?)```", text, re.S):
        first_line = text[: fragment_block.start()].count("\n") + 2
        current: list[str] = []
        start = first_line
        for offset, raw in enumerate(fragment_block.group(1).splitlines()):
            line = "" if raw.lstrip().startswith("#") else re.sub(r"\s+#.*$", "", raw)
            if not line.strip():
                continue
            if current and not raw[:1].isspace() and not line.lstrip().startswith(OPERATORS):
                yield start, "\n".join(current)
                current = []
            if not current:
                start = first_line + offset
            current.append(line)
        if current:
            yield start, "\n".join(current)


def promql_problems(document: Path, tmp_path: Path) -> list[str]:
    """promtool parses each expression as a recording rule; one rule file per document keeps the errors legible."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make tools installs it)")
    expressions = list(promql_expressions(document.read_text()))
    problems = []
    for line, expr in expressions:
        rules = tmp_path / f"line{line}.yml"
        rule = {"record": "doc:check", "expr": expr}
        rules.write_text(yaml.safe_dump({"groups": [{"name": "doc", "rules": [rule]}]}))
        result = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            problems.append(f"line {line}: promtool rejects {expr!r}: {result.stdout.strip()} {result.stderr.strip()}")
    return problems


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


def test_the_handbook_and_the_adrs_exist() -> None:
    names = {doc.relative_to(REPO).as_posix() for doc in DOCUMENTS}
    for deliverable in ("architecture", "deployment", "slos", "automation", "operations", "cost"):
        assert f"docs/handbook/{deliverable}.md" in names
    assert len([n for n in names if re.match(r"docs/adr/\d{4}-", n)]) >= 8
    assert "(docs/handbook/README.md)" in (REPO / "README.md").read_text()
    assert "(docs/adr/README.md)" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.relative_to(REPO).as_posix())
def test_every_quote_resolves(document: Path, parser: argparse.ArgumentParser) -> None:
    problems = check_document(document, REPO, parser)
    assert not problems, "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.relative_to(REPO).as_posix())
def test_every_promql_block_parses(document: Path, tmp_path: Path) -> None:
    assert not promql_problems(document, tmp_path)


def test_the_print_diagram_is_rendered_from_its_source() -> None:
    """The SVG is the render of the committed dot file: every node label of the source is in the image."""
    source = (REPO / "docs" / "handbook" / "architecture.dot").read_text()
    svg = html.unescape((REPO / "docs" / "handbook" / "architecture.svg").read_text())  # dot writes - as &#45;
    for label in re.findall(r'^\s*\w+\s+\[label="([^"\\]+)', source, re.M):
        assert label in svg, f"{label!r} is in architecture.dot but not in architecture.svg: run render.sh"
    assert (REPO / "docs" / "handbook" / "architecture.png").stat().st_size > 10_000


SYNTHETIC_GOOD = """# Good

## A section

Run `kafka-obs exporter --config.file clusters.yaml --region eu-west-1` or `make test`; the rules are in
`rules/slos.yaml` and `rules/generated/*.yml`. See [the section](#a-section) and [the other](other.md#title).

```sh
.venv/bin/kafka-obs rules generate --clusters clusters.yaml --out /tmp/rules   # comment --not-a-flag
kafka-obs demo --fleet acme | tee /tmp/log
```

```promql
sum by (cluster) (kafka_log_dir_total_bytes)
  - 2 * sum by (cluster) (kafka_log_dir_size_bytes)
```
"""

SYNTHETIC_BAD = {
    "path": ("see `rules/slo.yaml`", "no such path in the repository: rules/slo.yaml"),
    "glob": ("see `bench/results/*.csv`", "no such path in the repository: bench/results/*.csv"),
    "subcommand": ("run `kafka-obs exporters --region x`", "has no subcommand 'exporters'"),
    "action": ("run `kafka-obs rules regenerate`", "`kafka-obs rules` has no subcommand 'regenerate'"),
    "flag": ("run `kafka-obs exporter --regions us`", "`kafka-obs exporter` has no option --regions"),
    "flag-in-block": ("```sh\nkafka-obs demo --fleet=acme --detach\n```", "`kafka-obs demo` has no option --detach"),
    "make": ("run `make deploy`", "the Makefile has no target 'deploy'"),
    "link": ("see [missing](missing.md)", "broken link: missing.md"),
    "anchor": ("see [there](other.md#no-such-heading)", "no heading for the anchor: other.md#no-such-heading"),
}


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    (tmp_path / "other.md").write_text("# Title\n")
    return tmp_path


def test_a_correct_synthetic_document_passes(synthetic: Path, parser: argparse.ArgumentParser) -> None:
    document = synthetic / "good.md"
    document.write_text(SYNTHETIC_GOOD)
    assert check_document(document, REPO, parser) == []
    assert promql_problems(document, synthetic) == []


@pytest.mark.parametrize("case", SYNTHETIC_BAD, ids=list(SYNTHETIC_BAD))
def test_a_wrong_quote_fails(case: str, synthetic: Path, parser: argparse.ArgumentParser) -> None:
    snippet, expected = SYNTHETIC_BAD[case]
    document = synthetic / "bad.md"
    document.write_text(f"# Bad\n\n{snippet}\n")
    problems = [str(p) for p in check_document(document, REPO, parser)]
    assert any(expected in p for p in problems), problems


def test_broken_promql_fails(tmp_path: Path) -> None:
    document = tmp_path / "bad.md"
    document.write_text("# Bad\n\n```promql\nsum by (cluster (kafka_brokers)\n```\n")
    problems = promql_problems(document, tmp_path)
    assert len(problems) == 1, problems
    assert "line 4" in problems[0], problems
