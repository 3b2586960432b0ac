"""The home page without data names every place the app looks, the exact FACENET_DATA line to start
it with, and that a shared/data folder beside the repository (where the tests read it) is not one
of those places; the model card it shows names no path of the machine it was trained on."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lessons import overview
from model.train import in_data_folder
from tests.helpers import REPO


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()


def run_home():
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def text_of(app) -> str:
    text = " ".join(str(e.value) for kind in ("markdown", "code", "error", "info", "warning") for e in app.get(kind))
    return " ".join(text.split())  # the content files wrap their lines


def test_without_data_every_place_and_the_line_to_use(no_data, monkeypatch, tmp_path):
    monkeypatch.setattr(overview, "data_beside_repository", lambda: None)
    text = text_of(run_home())
    for place in ("Data folder box in the sidebar", "`FACENET_DATA`", "scikit-learn's data home"):
        assert place in text, place
    assert "FACENET_DATA=/path/to/data streamlit run app.py" in text
    assert "`shared/data` folder beside the repository" in text and "not one of the places" in text


def test_the_shared_data_beside_the_repository_is_named_with_its_line(no_data, monkeypatch, tmp_path):
    beside = tmp_path / "shared" / "data"
    (beside / "lfw").mkdir(parents=True)
    monkeypatch.setattr(overview, "data_beside_repository", lambda: beside)
    text = text_of(run_home())
    assert "is **not** one of" in text and f"FACENET_DATA={beside} streamlit run app.py" in text


def test_data_places_are_the_three_the_loader_searches(monkeypatch):
    monkeypatch.delenv("FACENET_DATA", raising=False)
    places = overview.data_places("")
    assert [where for _, where in places][:2] == ["empty", "not set"]
    monkeypatch.setenv("FACENET_DATA", "/some/data")
    assert "/some/data" in overview.data_places("/typed/here")[1][1]
    assert "/typed/here" in overview.data_places("/typed/here")[0][1]


def test_model_cards_record_the_data_relative_to_the_data_folder(tmp_path):
    for card_file in [REPO / "model/weights/facenet_inception_cpu.json", *sorted((REPO / "model/weights/runs").rglob("*.json"))]:
        dataset = json.loads(card_file.read_text()).get("dataset", "")
        assert "/work/" not in dataset and "(/" not in dataset, (card_file.name, dataset)
    (tmp_path / "lfw").mkdir()
    assert in_data_folder(tmp_path / "lfw") == "lfw/ in the data folder"
    assert in_data_folder(tmp_path / "olivetti" / "olivettifaces.mat", levels=2) == "olivetti/olivettifaces.mat in the data folder"
    facts = dict(overview.model_status().facts)
    assert facts["Data set"] == "LFW deep-funneled (lfw/ in the data folder)"
