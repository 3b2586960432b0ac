"""The home page: its logic (lessons/overview.py) on its own, then the page run through AppTest."""

import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import model.embed
import model.shipped
from lessons import overview
from model.data import DATA_ENV, HOW_TO_GET_DATA

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_caches():
    # Each test sets its own data folder and checkpoint; nothing may leak in from the last one.
    st.cache_data.clear()
    st.cache_resource.clear()
    overview.count_lfw.cache_clear()
    yield


def write_checkpoint(path: Path, card: dict) -> Path:
    """A real (tiny, untrained) checkpoint of this course, with the given model card."""
    from model.net import NetConfig, build_net

    model.embed.save_checkpoint(path, build_net(NetConfig(embedding_dim=16, width=0.25)), card)
    return path


CPU_CARD = {
    "device": "cpu",
    "torch": "2.13.0",
    "dataset": "LFW peopleDevTrain",
    "split": "view1",
    "parameters": 1_234_567,
    "multiply_adds_per_image": 98_700_000,
    "wall_time_s": 7260.0,
    "images_per_s": 412.3,
    "created": "2026-11-23T08:00:00+00:00",
    "metrics": {
        "view1_devtest_accuracy": 0.875,
        "view1_devtest_accuracy_devtrain_threshold": 0.8,
        "view1_devtest_val_at_far_1e-3": 0.25,
        "view2_accuracy_mean": 0.86,
        "view2_accuracy_standard_error": 0.004,
        "pca_baseline": {"view1_devtest_accuracy": 0.675},
    },
}


# --------------------------------------------------------------------------------------------
# lessons/overview.py without Streamlit
# --------------------------------------------------------------------------------------------


def test_course_lists_the_nine_lessons_and_opens_those_whose_page_exists():
    titles = [lesson.title for lesson in overview.COURSE]
    assert titles[0] == "The triplet loss, term by term"
    assert titles[-1] == "Your faces"
    assert len(titles) == 9
    assert all(lesson.goal and "\n" not in lesson.goal for lesson in overview.COURSE)
    for lesson in overview.COURSE:
        assert lesson.available == (REPO / lesson.page).is_file()
        assert overview.lesson(lesson.page) is lesson
    assert len({lesson.page for lesson in overview.COURSE}) == 9


def test_data_status_finds_the_shared_data(shared_data):
    status = overview.data_status(str(shared_data))
    assert status.lfw.found and status.lfw_complete
    assert (status.lfw.images, status.lfw.people) == (13_233, 5_749)
    assert status.lfw.protocol_present == overview.LFW_PROTOCOL_FILES
    assert status.olivetti.found and status.olivetti.location.endswith("olivettifaces.mat")


def test_data_status_without_data_says_where_it_looked(no_data):
    status = overview.data_status(None)
    assert not status.lfw.found and not status.olivetti.found
    assert str(no_data) in status.lfw.problem
    assert HOW_TO_GET_DATA not in status.lfw.problem  # shown once by the page, not per dataset
    assert status.how_to_get_data == HOW_TO_GET_DATA


def test_data_status_counts_a_small_lfw_and_lists_missing_protocol_files(tmp_path, no_data):
    images = tmp_path / "mine" / "lfw" / "lfw-deepfunneled"
    for file in ("Ann/Ann_0001.jpg", "Bob/Bob_0001.jpg", "Bob/Bob_0002.jpg", "Bob/notes.txt"):
        (images / file).parent.mkdir(parents=True, exist_ok=True)
        (images / file).touch()
    (images.parent / "pairs.txt").write_text("10\t300\n")
    status = overview.data_status(str(tmp_path / "mine"))
    assert (status.lfw.people, status.lfw.images) == (2, 3)
    assert status.lfw.protocol_present == ("pairs.txt",)
    assert "peopleDevTest.txt" in status.lfw.protocol_missing and not status.lfw_complete


def test_data_status_notices_a_folder_that_does_not_exist(no_data, tmp_path):
    status = overview.data_status(str(tmp_path / "typo"))
    assert status.given_path == str(tmp_path / "typo") and not status.given_path_exists
    assert not overview.data_status("  ").given_path  # blank input means "no folder given"


def test_model_status_of_a_missing_or_corrupt_checkpoint(tmp_path):
    missing = overview.model_status(tmp_path / "nothing.pt")
    assert not missing.found and "No checkpoint" in missing.problem
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    status = overview.model_status(corrupt)
    assert not status.found and "corrupt.pt" in status.problem


def test_the_shipped_model_is_described_from_its_card_without_loading_it():
    def no_loading(path):
        raise AssertionError(f"{path} was loaded (torch) for the home page")

    status = overview.model_status(load=no_loading)
    loaded = model.embed.load_model()
    assert status.found and status.file_name == model.shipped.DEFAULT_CHECKPOINT.name
    config = loaded.config
    assert (status.arch, status.embedding_dim, status.input_size) == (config.arch, config.embedding_dim, config.input_size)
    assert status.card == loaded.card  # the JSON beside the checkpoint is the card inside it


def test_a_shipped_checkpoint_changed_since_is_loaded_to_be_checked(tmp_path):
    shipped = model.shipped
    checkpoint = tmp_path / "copy.pt"
    for source, target in ((shipped.DEFAULT_CHECKPOINT, checkpoint),
                           (shipped.card_file(shipped.DEFAULT_CHECKPOINT), shipped.card_file(checkpoint)),
                           (shipped.lfw_embeddings_file(shipped.DEFAULT_CHECKPOINT), shipped.lfw_embeddings_file(checkpoint))):
        target.write_bytes(source.read_bytes())
    card = shipped.verified_card(checkpoint)
    assert card == json.loads(shipped.card_file(checkpoint).read_text())
    assert overview.model_status(checkpoint, load=lambda path: 1 / 0).found  # not loaded

    weights = checkpoint.read_bytes()
    checkpoint.write_bytes(weights[: len(weights) // 2])  # a copy cut short
    assert shipped.verified_card(checkpoint) is None
    status = overview.model_status(checkpoint)
    assert not status.found and "copy.pt is not a readable checkpoint" in status.problem

    checkpoint.write_bytes(weights)
    shipped.lfw_embeddings_file(checkpoint).unlink()  # nothing to vouch for the weights: load them
    assert shipped.verified_card(checkpoint) is None
    seen = []
    assert overview.model_status(checkpoint, load=lambda path: seen.append(path) or model.embed.load_model(path)).found
    assert seen == [checkpoint]


def test_model_status_reads_the_model_card(tmp_path):
    status = overview.model_status(write_checkpoint(tmp_path / "tiny.pt", CPU_CARD))
    assert status.found and status.file_name == "tiny.pt"
    assert (status.arch, status.embedding_dim, status.input_size) == ("inception", 16, 64)
    assert status.provisional
    metrics = {m.key: m for m in status.metrics}
    assert [m.key for m in status.metrics] == list(overview.METRIC_LABELS)  # the fair number first
    assert metrics["view1_devtest_accuracy_devtrain_threshold"].value == "80.0%"
    assert "fixed on pairsDevTrain" in metrics["view1_devtest_accuracy_devtrain_threshold"].label
    accuracy = metrics["view1_devtest_accuracy"]
    assert accuracy.value == "87.5%" and accuracy.vs_baseline.startswith("+20.0 points")
    assert "ten folds of pairsDevTest" in accuracy.label  # named for how its threshold was tuned
    assert metrics["view2_accuracy_mean"].value == "86.0% ± 0.4"
    assert "shared with training" in metrics["view2_accuracy_mean"].label  # the caveat is in the label
    assert metrics["view1_devtest_val_at_far_1e-3"].vs_baseline is None
    assert status.protocols == {"fixed": 0.8, "tuned": 0.875, "view2": 0.86}
    facts = dict(status.facts)
    assert facts["Parameters"] == "1.2 million" and facts["Training time"] == "2 h 01 min"


def test_model_status_tolerates_a_sparse_card(tmp_path):
    status = overview.model_status(write_checkpoint(tmp_path / "bare.pt", {"device": "NVIDIA H100 80GB HBM3"}))
    assert status.found and not status.provisional
    assert status.metrics == [] and status.facts == [("Trained on", "NVIDIA H100 80GB HBM3")]
    assert status.protocols is None


def test_model_status_uses_the_loader_it_is_given(tmp_path):
    seen = []

    def loader(path):
        seen.append(path)
        return model.embed.load_model(path)

    overview.model_status(write_checkpoint(tmp_path / "tiny.pt", {}), load=loader)
    assert seen == [tmp_path / "tiny.pt"]


# --------------------------------------------------------------------------------------------
# The page itself, through AppTest
# --------------------------------------------------------------------------------------------


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


def test_who_is_at_the_servers_machine():
    from unittest.mock import MagicMock

    from ui.visitor import kind_of_address

    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        assert kind_of_address(address) == "loopback", address
    for address in ("192.0.2.7", "10.0.0.5", "fd00::2", "2001:db8::1", "::ffff:192.0.2.7"):
        assert kind_of_address(address) == "network", address
    for address in (None, "", "localhost", "not an address", MagicMock()):
        assert kind_of_address(address) == "unknown", address


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


def test_every_cache_keyed_by_a_path_or_folder_is_bounded():
    """A cache whose key anyone could vary (a folder, a path, where photos came from) must not grow
    without end: every such st.cache_data / st.cache_resource sets max_entries."""
    import ast

    keyed_by_input = {"path", "data_path", "data_folder", "folder", "source"}
    unbounded = []
    for file in sorted([*(REPO / "pages").glob("*.py"), *(REPO / "ui").glob("*.py")]):
        for node in ast.walk(ast.parse(file.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                name = ast.unparse(deco.func if isinstance(deco, ast.Call) else deco)
                if name not in ("st.cache_data", "st.cache_resource"):
                    continue
                bounded = isinstance(deco, ast.Call) and any(k.arg == "max_entries" for k in deco.keywords)
                if {a.arg for a in node.args.args} & keyed_by_input and not bounded:
                    unbounded.append(f"{file.name}:{node.lineno} {node.name}")
    assert not unbounded, unbounded
