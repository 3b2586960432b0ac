"""lessons/overview.py, the home page's logic, without Streamlit: the course plan, what data was found
and where, and the model described from its card. The page itself runs in tests/pages/test_app_home.py."""

import json

import pytest

import model.embed
import model.shipped
from lessons import overview
from model.data import HOW_TO_GET_DATA
from tests.helpers import CPU_CARD, REPO, write_checkpoint


@pytest.fixture(autouse=True)
def fresh_lfw_count():
    """Each test sets its own data folder: no count of LFW may leak in from the last one."""
    overview.count_lfw.cache_clear()
    yield


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
