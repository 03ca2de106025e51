"""Regenerate ``legacy-unversioned.db``: a webhook database written by the code before schema versions existed.

The file is committed (the code that wrote it is gone from the tree); this is how it was made, for the record:

    git archive a11312a webhook | tar -x -C /tmp/oldsrc
    .venv/bin/python tests/webhook/data/make_legacy_db.py /tmp/oldsrc/webhook tests/webhook/data/legacy-unversioned.db

It runs one remediation that succeeds and one that is rolled back, through that code's own service and worker.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
import tempfile
from pathlib import Path


def main(old_webhook: str, out: str) -> None:
    spec = importlib.util.spec_from_file_location(
        "kafka_obs.webhook", Path(old_webhook) / "__init__.py", submodule_search_locations=[old_webhook]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kafka_obs.webhook"] = module
    spec.loader.exec_module(module)

    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from tests.webhook.conftest import Harness, alert, enabled_playbooks, make_config

    with tempfile.TemporaryDirectory() as tmp:
        h = Harness(Path(tmp), enabled_playbooks("high_consumer_lag"), make_config(Path(tmp)))
        h.post(alert(fingerprint="000000000000aaaa"))
        h.run()
        h.prometheus.holds = lambda _expr: False
        h.post(alert(fingerprint="000000000000bbbb", consumergroup="clicks-aggregator", topic="clicks"))
        h.run()
        assert h.states() == ["succeeded", "rolled_back"], h.states()
        assert str(Path(old_webhook).resolve()) in str(Path(sys.modules["kafka_obs.webhook.store"].__file__ or ""))
        h.client.close()
        h.service.intake.close()
        h.store.close()
        conn = sqlite3.connect(Path(tmp) / "webhook.db")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute(f"VACUUM INTO '{out}'")
        conn.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
