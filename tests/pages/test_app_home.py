"""The home page run through AppTest. Its logic is tested on its own in tests/lessons/test_overview.py,
who is at the server's machine in tests/pages/test_visitor.py."""

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import model.shipped
from lessons import overview
from model.data import DATA_ENV, HOW_TO_GET_DATA
from tests.helpers import CPU_CARD, write_checkpoint

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_caches():
    # Each test sets its own data folder and checkpoint; nothing may leak in from the last one.
    st.cache_data.clear()
    st.cache_resource.clear()
    overview.count_lfw.cache_clear()
    yield


def run_app() -> AppTest:
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def page_text(app: AppTest) -> str:
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning", "error", "code")
    parts = [str(element.value) for kind in kinds for element in app.get(kind)]
    parts += [f"{metric.label}: {metric.value}" for metric in app.metric]
    return "\n".join(parts)


def test_home_page_with_the_shared_data(shared_data, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(shared_data))
    app = run_app()
    text = page_text(app)
    assert "FaceNet, hands on" in text
    missing = [lesson for lesson in overview.COURSE if not lesson.available]
    assert ("in preparation" in text) == bool(missing)
    links = [link.proto.page for link in app.get("page_link")]
    assert links == [Path(lesson.page).stem for lesson in overview.COURSE if lesson.available]  # their URL paths
    assert "LFW found" in text and "13,233 images of 5,749 people" in text
    if model.shipped.DEFAULT_CHECKPOINT.exists():
        assert model.shipped.DEFAULT_CHECKPOINT.name in text and "No usable model" not in text
    else:
        assert "No usable model" in text and f"No checkpoint at {model.shipped.DEFAULT_CHECKPOINT}" in text


def test_home_page_without_data_says_how_to_get_it(no_data):
    app = run_app()
    text = page_text(app)
    assert "LFW was not found" in text
    assert HOW_TO_GET_DATA.strip() in [code.value.strip() for code in app.code]


def test_typing_a_data_folder_checks_again(shared_data, no_data):  # shared_data first: no_data changes $FACENET_DATA
    app = run_app()
    assert "LFW was not found" in page_text(app)
    app.sidebar.text_input(key="data_path_box").input(str(shared_data)).run()
    assert not app.exception
    assert app.session_state["data_path"] == str(shared_data)
    assert "13,233 images of 5,749 people" in page_text(app)


def test_home_page_shows_a_provisional_model_and_its_metrics(tmp_path, monkeypatch, shared_data):
    monkeypatch.setenv(DATA_ENV, str(shared_data))
    monkeypatch.setattr(model.shipped, "DEFAULT_CHECKPOINT", write_checkpoint(tmp_path / "tiny.pt", CPU_CARD))
    app = run_app()
    text = page_text(app)
    assert "`tiny.pt`" in text and "provisional" in text
    assert overview.METRIC_LABELS["view1_devtest_accuracy"] + ": 87.5%" in text
    assert overview.METRIC_LABELS["view1_devtest_accuracy_devtrain_threshold"] + ": 80.0%" in text
    assert [m.delta for m in app.metric if m.delta][0].startswith("+20.0 points")
    # the View 2 caveat is on the page, not only in a tile's hover text
    caveat = next(i.value for i in app.info if "Which number to quote" in i.value)
    assert "**80.0%**" in caveat and "87.5%" in caveat and "not comparable with the paper's 98.87%" in caveat


def test_home_page_quotes_the_shipped_cards_accuracies_by_protocol(shared_data, monkeypatch):
    """Both View 1 numbers and View 2's come from the shipped model card, never from the text."""
    monkeypatch.setenv(DATA_ENV, str(shared_data))
    if not model.shipped.DEFAULT_CHECKPOINT.exists():
        pytest.skip("no shipped model")
    card = overview.model_status().card["metrics"]
    app = run_app()
    shown = {m.label: m.value for m in app.metric}
    fixed, tuned = card["view1_devtest_accuracy_devtrain_threshold"], card["view1_devtest_accuracy"]
    assert shown[overview.METRIC_LABELS["view1_devtest_accuracy_devtrain_threshold"]] == f"{100 * fixed:.1f}%"
    assert shown[overview.METRIC_LABELS["view1_devtest_accuracy"]].startswith(f"{100 * tuned:.1f}% ± ")
    assert fixed < tuned  # a threshold chosen on other people costs accuracy
    caveat = next(i.value for i in app.info if "Which number to quote" in i.value)
    assert f"**{fixed:.1%}**" in caveat and f"{tuned:.1%}" in caveat
    assert f"**{card['view2_accuracy_mean']:.1%} is not comparable" in caveat and "Sec. 5.6" in caveat
    helps = {m.label: m.help for m in app.metric}
    assert "pairsDevTrain" in helps[overview.METRIC_LABELS["view1_devtest_accuracy_devtrain_threshold"]]


def test_home_page_reports_a_corrupt_checkpoint(tmp_path, monkeypatch, shared_data):
    monkeypatch.setenv(DATA_ENV, str(shared_data))
    corrupt = tmp_path / "broken.pt"
    corrupt.write_bytes(b"\x00" * 100)
    monkeypatch.setattr(model.shipped, "DEFAULT_CHECKPOINT", corrupt)
    app = run_app()
    assert any("broken.pt is not a readable checkpoint" in e.value for e in app.error)


def test_check_again_finds_data_that_arrived_after_the_first_look(shared_data, no_data):
    app = run_app()
    assert "LFW was not found" in page_text(app)
    (no_data / "lfw").symlink_to(shared_data / "lfw", target_is_directory=True)  # "downloaded" meanwhile
    app.run()
    assert "LFW was not found" in page_text(app)  # the cached answer
    app.button(key="check_data_again").click().run()
    assert not app.exception
    assert "13,233 images of 5,749 people" in page_text(app)


# --------------------------------------------------------------------------------------------
# The data folder is the server's setting (ui/visitor.py)
# --------------------------------------------------------------------------------------------


def sidebar_keys(app: AppTest) -> set:
    return {w.key for kind in ("text_input", "button") for w in app.sidebar.get(kind)}


@pytest.mark.parametrize("who", ["over the network", "through a proxy", "on a server that turned the box off"])
def test_only_the_person_at_the_servers_machine_may_choose_the_data_folder(who, shared_data, no_data, monkeypatch):
    import ui.visitor

    if who == "over the network":
        monkeypatch.setattr(ui.visitor, "connection", lambda: "network")
    elif who == "through a proxy":  # a reverse proxy on the server's machine: every visitor comes from loopback
        monkeypatch.setattr(ui.visitor, "through_a_proxy", lambda: True)
    else:
        monkeypatch.setenv(ui.visitor.DATA_BOX_ENV, "off")
    app = run_app()
    assert not sidebar_keys(app) & {"data_path_box", "check_data_again"}
    # a folder in the session's state (however it got there) is not used: only $FACENET_DATA is
    app.session_state["data_path"] = str(shared_data)
    app.run()
    assert "LFW was not found" in page_text(app) and str(no_data) in page_text(app)
    assert "LFW found" not in page_text(app)
    # the person at the server's own machine has the box
    monkeypatch.undo()
    monkeypatch.setenv(DATA_ENV, str(no_data))
    monkeypatch.setattr(ui.visitor, "connection", lambda: "loopback")
    assert {"data_path_box", "check_data_again"} <= sidebar_keys(run_app())


@pytest.mark.parametrize("typed, words", [("x" * 5000, "too long for this system"),
                                          ("data\x00folder", "null character"),
                                          ("~no-such-user-of-this-system/data", "user this system does not know")])
def test_any_data_folder_typed_gets_a_message_in_plain_words(typed, words, no_data):
    app = run_app()
    app.sidebar.text_input(key="data_path_box").input(typed).run()
    assert not app.exception, [e.value for e in app.exception]
    warnings = [str(w.value) for w in app.warning]
    assert any("cannot be used" in w and words in w for w in warnings), warnings
    text = page_text(app)
    assert "Errno" not in text and "OSError" not in text and len(text) < 20_000  # the 5,000 characters are cut
