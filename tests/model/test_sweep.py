"""Comparison runs: each changes one thing of the shared recipe, trains with model.train, and ships
its card where the lessons read it."""

import json
from dataclasses import fields

import pytest

from model import sweep
from model.train import TrainConfig


def test_every_run_of_every_plan_is_a_valid_training_config_changing_what_its_name_says():
    names = {f.name for f in fields(TrainConfig)}
    for plan in sweep.PLANS.values():
        for name, change in plan.items():
            assert set(change) <= names, name
        assert any(not change for change in plan.values()), "a plan needs its reference run"
    lessons = sweep.PLANS["lessons-cpu"]
    for name, change in lessons.items():
        if name.startswith("alpha-"):
            assert sweep.LESSONS_CPU_BASE["margin"] == 0.2 and change.get("margin", 0.2) == float(name[6:])
    assert lessons["sgd"] == {"optimizer": "sgd"} and lessons["hardest-negatives"] == {"mining": "hard"}


@pytest.mark.slow
def test_a_plan_trains_each_missing_run_and_ships_its_card(shared_data, tmp_path, monkeypatch, capsys):
    # A two-run plan on Olivetti, small enough for a test; the same code path as the lesson runs.
    monkeypatch.setattr(sweep, "PLANS", {"tiny": {"reference": {}, "wide-margin": {"margin": 0.5}}})
    monkeypatch.setattr(sweep, "LESSONS_CPU_BASE", dict(
        dataset="olivetti", split="train", people_per_batch=10, images_per_person=4, steps=4, eval_every=2,
        checkpoint_every=0, width=0.25, embedding_dim=16, seed=0, threads=1, quiet=True))
    monkeypatch.setattr(sweep, "SHIPPED_RUNS", tmp_path / "shipped")
    args = ["--plan", "tiny", "--out", str(tmp_path / "runs"), "--data-path", str(shared_data)]
    assert sweep.main(args) == 0
    runs = sweep.load_runs("tiny", tmp_path / "shipped")
    assert sorted(runs) == ["reference", "wide-margin"]
    assert runs["wide-margin"].margin == 0.5 and runs["reference"].margin == 0.2
    assert runs["reference"].mining == "semi-hard" and runs["reference"].optimizer == "adagrad"
    steps, losses = runs["reference"].curve("loss")
    assert steps and steps == sorted(steps) and all(loss >= 0 for loss in losses)
    eval_steps, _ = runs["reference"].curve("heldout_val_at_far_1e-3")
    assert eval_steps[0] == 0  # the curves start at the untrained network
    # a second call trains nothing: the cards are there
    card = tmp_path / "runs" / "tiny" / "reference" / "card.json"
    before = card.stat().st_mtime_ns
    sweep.main(args)
    assert card.stat().st_mtime_ns == before


def test_unreadable_run_cards_are_skipped(tmp_path):
    (tmp_path / "plan").mkdir()
    (tmp_path / "plan" / "good.json").write_text(json.dumps({"hyperparameters": {"margin": 0.1}, "history": []}))
    (tmp_path / "plan" / "broken.json").write_text("{ not json")
    runs = sweep.load_runs("plan", tmp_path)
    assert list(runs) == ["good"] and runs["good"].margin == 0.1 and runs["good"].curve("loss") == ([], [])
    assert sweep.load_runs("no-such-plan", tmp_path) == {}
