"""The tag catalog: kinds, descriptions and sources set at creation or later,
update times, grouping in describe(), queries by kind, and persistence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import uoseg
import uoseg.datasets


def test_entries_are_set_at_creation_or_later_and_saved(tmp_path: Path) -> None:
    store = uoseg.TagStore()
    store.add_tag("vip", [1, 2], kind="result", description="会员", source="crm")
    store.add_attribute("city", [1, 2], ["SH", "BJ"], kind="basic")
    store.add_numeric("churn_p", [1, 2], [0.1, 0.8], kind="predicted", source="model v3")
    store.add_tag("clicked", [2])
    store.annotate("clicked", kind="behaviour", description="clicked the push")
    rows = {r["name"]: r for r in store.catalog().to_pylist()}
    assert rows["vip"] == {
        "name": "vip",
        "type": "tag",
        "kind": "result",
        "description": "会员",
        "source": "crm",
        "updated": rows["vip"]["updated"],
    }
    assert rows["churn_p"]["type"] == "numeric" and rows["city"]["type"] == "categorical"
    assert rows["clicked"]["description"] == "clicked the push"
    # Grouped by kind: basic, behaviour, result, predicted.
    assert [r["name"] for r in store.catalog().to_pylist()] == ["city", "clicked", "vip", "churn_p"]
    assert store.tags(kind="predicted") == ["churn_p"]
    assert store.tags() == ["clicked", "vip"]
    described = store.describe().to_pylist()
    assert [r["catalog"] for r in described] == ["basic", "behaviour", "result", "predicted"]
    path = tmp_path / "s.uoseg"
    store.save(path)
    assert uoseg.TagStore.load(path).catalog().to_pylist() == store.catalog().to_pylist()


def test_updates_refresh_the_time_and_keep_the_rest() -> None:
    store = uoseg.TagStore()
    store.add_tag("vip", [1], kind="result", description="会员")
    first = store.catalog().to_pylist()[0]
    assert dt.datetime.fromisoformat(first["updated"]).tzinfo is not None
    store.update_tag("vip", add=[2])
    second = store.catalog().to_pylist()[0]
    assert second["kind"] == "result" and second["description"] == "会员"
    assert second["updated"] >= first["updated"]
    store.drop_tag("vip")
    assert store.catalog().num_rows == 0


def test_results_of_rfm_and_playbooks_are_catalogued() -> None:
    population = uoseg.datasets.synthetic_population(2_000, seed=1)
    store = uoseg.TagStore()
    store.add_rfm(uoseg.rfm(population.transactions, as_of=population.as_of))
    assert "rfm.segment" in store.tags(kind="result")
    store.apply(uoseg.playbooks.rfm_layers())
    row = {r["name"]: r for r in store.catalog().to_pylist()}["rfm_layer"]
    assert (row["kind"], row["source"]) == ("result", "playbook rfm_layer")


def test_bad_kinds_and_names_are_refused() -> None:
    store = uoseg.TagStore()
    with pytest.raises(uoseg.InvalidInputError, match="basic, behaviour, result, predicted"):
        store.add_tag("vip", [1], kind="vip")
    assert store.tags() == []  # nothing was added
    store.add_tag("vip", [1])
    with pytest.raises(uoseg.UnknownNameError, match="vpi"):
        store.annotate("vpi", kind="basic")
    with pytest.raises(uoseg.InvalidInputError):
        store.tags(kind="guessed")
