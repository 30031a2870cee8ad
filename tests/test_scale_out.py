"""Past one machine (docs/scale.md): collector processes per account group into one PostgreSQL
store at once, `store merge`, then one check over all of them — with the same results as one
collect of the whole estate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import sqlalchemy as sa

from agentaudit import pipeline
from agentaudit.model.store import Store
from tests.test_store_concurrency import AS_OF, _agentaudit, _assert_whole, _finish

PATHS = pipeline.demo_paths()


def _groups(tmp_path: Path) -> list[Path]:
    """The sample estate split into one folder per account or tenant, as per-group jobs see it."""
    groups = []
    for account in sorted(p for provider in PATHS["source"].iterdir() for p in provider.iterdir()):
        group = tmp_path / "groups" / account.name
        shutil.copytree(account, group / account.parent.name / account.name)
        groups.append(group)
    return groups


def _collect_args(source: Path, url: str) -> list[str]:
    return ["collect", "--source", str(source), "--store", url, "--register", str(PATHS["register"]),
            "--roster", str(PATHS["roster"])]  # fmt: skip


def _control_counts(folder: Path) -> dict[str, dict[str, int]]:
    summary = json.loads((folder / "summary.json").read_text())
    return {c["control_id"]: {k: v for k, v in c.items() if isinstance(v, int)} for c in summary["controls"]}


def test_parallel_group_collectors_then_one_check_match_one_whole_collect(postgres_url: str, tmp_path: Path) -> None:
    schema = f"scale_{tmp_path.name[-8:].replace('-', '_').lower()}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = postgres_url + f"?options=-csearch_path%3D{schema}"
    config = PATHS["config"]
    try:
        groups = _groups(tmp_path)
        assert len(groups) == 3
        jobs = [_agentaudit(*_collect_args(g, url), config=config) for g in groups]
        done = [_finish(j) for j in jobs]
        assert all(code == 0 for code, _, _ in done), [err for _, _, err in done]
        code, printed, err = _finish(_agentaudit("store", "merge", "1", "2", "3", "--store", url, config=config))
        assert code == 0, err
        merged = int(printed.strip())
        assert merged == 4
        checked = _finish(_agentaudit("check", "--store", url, "--as-of", AS_OF, "--out", str(tmp_path / "merged"),
                                      config=config))  # fmt: skip
        assert checked[0] in (0, 1), checked[2]
        store = Store(url)
        assert _assert_whole(store) == [1, 2, 3, 4]
        # The same estate collected whole, checked the same way.
        assert _finish(_agentaudit(*_collect_args(PATHS["source"], url), config=config))[0] == 0
        whole = _finish(_agentaudit("check", "--store", url, "--as-of", AS_OF, "--out", str(tmp_path / "whole"),
                                    "--snapshot", "5", config=config))  # fmt: skip
        assert whole[0] in (0, 1), whole[2]
        merged_counts = _control_counts(Path(checked[1].strip().splitlines()[-1]))
        whole_counts = _control_counts(Path(whole[1].strip().splitlines()[-1]))
        assert merged_counts == whole_counts
        overlap = _finish(_agentaudit("store", "merge", "4", "5", "--store", url))
        assert overlap[0] == 2 and "overlap (identity " in overlap[2] and "Traceback" not in overlap[2]
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
