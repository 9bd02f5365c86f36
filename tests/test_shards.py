"""Shards: a stable split of the accounts, shard runs plus one full-table run equal one unsharded run (deletes
included), the plan command, and a failing account failing its run when asked to."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter

import pytest
from twilio_sandbox import Sandbox

from tap_twilio.shards import Shard, jump_hash, shard_of
from tests.conftest import FAST_RETRIES, TapRun, parse_output, run_tap

SHARDS = 3
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)  # today's usage grows with the clock: runs compare equal


def activated(run: TapRun) -> set[str]:
    return {json.loads(line)["stream"] for line in run.stdout.splitlines() if '"ACTIVATE_VERSION"' in line}


def rows(runs: list[TapRun]) -> dict[str, Counter[str]]:
    """Every stream's records (as canonical JSON) over several runs."""
    out: dict[str, Counter[str]] = {}
    for run in runs:
        for stream, records in run.records.items():
            out.setdefault(stream, Counter()).update(json.dumps(r, sort_keys=True) for r in records)
    return out


def test_the_hash_is_stable_and_a_new_shard_count_moves_few_accounts():
    sids = [f"AC{i:032x}" for i in range(4000)]
    assert shard_of("AC" + "0" * 32, 16) == shard_of("AC" + "0" * 32, 16)
    assert [shard_of(s, 1) for s in sids[:10]] == [1] * 10
    sizes = Counter(shard_of(s, 8) for s in sids)
    assert set(sizes) == set(range(1, 9))
    assert max(sizes.values()) < 1.15 * len(sids) / 8  # even
    moved = sum(shard_of(s, 8) != shard_of(s, 9) for s in sids)
    assert moved < 1.3 * len(sids) / 9  # growing 8 -> 9 shards moves about 1/9 of the accounts, not 8/9
    assert jump_hash(0, 1) == 0


def test_a_shard_setting_is_checked():
    assert Shard.parse("3/16") == Shard(3, 16)
    with pytest.raises(ValueError, match="between 1 and 2"):
        Shard.parse("3/2")
    with pytest.raises(ValueError, match="3/16"):
        Shard.parse("0/2")


def test_an_impossible_shard_is_one_config_error(tmp_path, sandbox):
    run = run_tap(tmp_path, sandbox.tap_config(shard="4/3"), check=False)
    assert run.returncode == 1
    assert "shard 4/3: the shard number must be between 1 and 3" in run.stderr


def test_shards_and_one_full_table_run_equal_one_unsharded_run_with_deletes(tmp_path):
    with Sandbox(seed=5, subaccounts=7, days=20, now=NOW) as sb:
        config = sb.tap_config(**FAST_RETRIES)
        whole = run_tap(tmp_path, config)
        shards = [run_tap(tmp_path, {**config, "shard": f"{i}/{SHARDS}", "tables": "incremental"}) for i in (1, 2, 3)]
        full = run_tap(tmp_path, {**config, "tables": "full_table"})

        # every account is read by exactly one shard (its alerts too), the main account by shard 1
        read = [{r["account_sid"] for r in run.records["messages"]} for run in shards]
        assert sum(len(accounts) for accounts in read) == len(sb.account_sids)
        assert set.union(*read) == set(sb.account_sids)
        assert sb.main_account_sid in read[0]
        assert all(len(accounts) >= 1 for accounts in read)
        alerts = [{r["account_sid"] for r in run.records["alerts"]} for run in shards]  # every account has its own
        assert all(alerted and alerted <= accounts for alerted, accounts in zip(alerts, read, strict=True))
        assert not any(run.records["pricing_voice_countries"] for run in shards)
        assert full.records["pricing_voice_countries"]
        assert not any(activated(run) for run in shards)  # a shard never replaces a table

        # the full-table run reads only replaceable tables, and replaces each (deletes reach the target)
        assert "messages" not in full.records
        assert "message_media" not in full.records  # a full-table child of messages: read with its parents
        assert activated(full) == activated(whole)
        assert "sip_domains" in activated(full)

        # the union of the four runs is the unsharded run, record for record
        assert rows([*shards, full]) == rows([whole])


def test_a_revoked_account_fails_the_run_when_asked_and_the_others_are_still_read(tmp_path):
    with Sandbox(seed=5, subaccounts=3, days=5) as sb:
        revoked = sb.account_sids[2]
        config = sb.tap_config(**FAST_RETRIES)
        strict = {**config, "fail_on_inaccessible_accounts": True}
        skipped = run_tap(tmp_path, strict)  # a product the account lacks (Voice Insights: 403/20403) is no failure
        assert "Voice Insights Advanced Features is not enabled" in skipped.stderr
        sb.forbidden_accounts.add(revoked)
        assert run_tap(tmp_path, config).returncode == 0  # default: a warning
        failed = run_tap(tmp_path, strict, check=False)
        assert failed.returncode == 1
        assert f"could not be read (fail_on_inaccessible_accounts): {revoked}" in failed.stderr
        parse_output(failed.stdout, failed)
        assert {r["account_sid"] for r in failed.records["messages"]} == set(sb.account_sids) - {revoked}
        assert sb.main_auth_token not in failed.stderr + failed.stdout


def test_the_plan_prints_each_shard_its_accounts_work_and_spread(tmp_path):
    with Sandbox(seed=5, subaccounts=7, days=5) as sb:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(sb.tap_config()))
        counts = tmp_path / "counts.csv"
        sids = sb.account_sids
        counts.write_text("account_sid,records\n" + "".join(f"{sid},{100 * (i + 1)}\n" for i, sid in enumerate(sids)))
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tap_twilio.plan",
                "--config",
                str(config),
                "--shards",
                "3",
                "--counts",
                str(counts),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    split = Shard(1, 3).split(sids, sids[0])
    weight = {sid: 100 * (i + 1) for i, sid in enumerate(sids)}
    for index, accounts in split.items():
        assert f"shard {index}/3: {len(accounts)} account(s), {sum(weight[a] for a in accounts):,} records" in out
        for sid in accounts:
            assert f"  {index}/3  {sid}" in out
    largest = max(sum(weight[a] for a in accounts) for accounts in split.values())
    assert f"largest shard / average: {largest / (sum(weight.values()) / 3):.2f}" in out
    assert sb.main_auth_token not in out + proc.stderr
