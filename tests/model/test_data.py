"""Loaders, protocol files, preprocessing and the P x K sampler, on the real data in ../shared/data."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model import data
from model.data import (DataNotFoundError, PKSampler, crop_and_resize, find_lfw, find_olivetti, lfw_pairs, lfw_people,
                        load_folder, load_olivetti, preprocess, read_people, to_model_input)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_env_data(monkeypatch, tmp_path):
    """No $FACENET_DATA and an empty scikit-learn data home."""
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    empty = tmp_path / "sklearn_home"
    empty.mkdir()
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(empty))
    return empty


# --------------------------------------------------------------------------------------------
# Finding the data
# --------------------------------------------------------------------------------------------


def test_explicit_path_then_environment(shared_data, no_env_data, monkeypatch, tmp_path):
    assert find_lfw(shared_data) == shared_data / "lfw"
    monkeypatch.setenv(data.DATA_ENV, str(shared_data))
    assert find_lfw() == shared_data / "lfw"
    assert find_olivetti() == shared_data / "olivetti" / "olivettifaces.mat"
    # an explicit path is tried before the environment variable
    other = tmp_path / "other" / "lfw" / "lfw-deepfunneled"
    other.mkdir(parents=True)
    assert find_lfw(tmp_path / "other") == tmp_path / "other" / "lfw"


def test_scikit_learn_data_home_is_searched(shared_data, no_env_data):
    # scikit-learn keeps LFW as <data_home>/lfw_home/lfw_funneled/<Name>/...
    person = no_env_data / "lfw_home" / "lfw_funneled" / "Aaron_Eckhart"
    person.mkdir(parents=True)
    shutil.copy(shared_data / "lfw" / "lfw-deepfunneled" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg", person)
    assert find_lfw() == no_env_data / "lfw_home"
    faces = data.load_lfw(use_cache=False)
    assert len(faces) == 1 and faces.names == ["Aaron_Eckhart"]


def test_missing_data_says_how_to_get_it(no_env_data, tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        find_lfw(tmp_path / "nothing-here")
    message = str(err.value)
    assert "FACENET_DATA" in message and "lfw-deepfunneled" in message and str(tmp_path / "nothing-here") in message
    with pytest.raises(DataNotFoundError, match="Olivetti"):
        find_olivetti(tmp_path / "nothing-here")


def test_missing_protocol_file_is_named(tmp_path):
    (tmp_path / "lfw-deepfunneled").mkdir()
    with pytest.raises(DataNotFoundError, match="peopleDevTrain.txt"):
        lfw_people(tmp_path, "devtrain")


def test_cache_lives_outside_the_project():
    assert REPO not in data.cache_dir().resolve().parents


# --------------------------------------------------------------------------------------------
# LFW
# --------------------------------------------------------------------------------------------


def test_lfw_has_every_image_and_person(lfw):
    assert len(lfw) == 13233 and lfw.num_people == 5749
    assert lfw.images.shape == (13233, data.INPUT_SIZE, data.INPUT_SIZE, 3) and lfw.images.dtype == np.uint8
    assert lfw.skipped == []
    counts = np.bincount(lfw.labels)
    assert (counts >= 2).sum() == 1680 and (counts >= 10).sum() == 158  # as LFW's README says
    i = lfw.files.index("George_W_Bush/George_W_Bush_0001.jpg")
    assert lfw.names[lfw.labels[i]] == "George_W_Bush" and counts[lfw.labels[i]] == 530


def test_cached_crops_are_the_preprocessing_of_the_jpeg(lfw, lfw_root):
    for f in ("Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Zico/Zico_0003.jpg"):
        with Image.open(lfw_root / "lfw-deepfunneled" / f) as im:
            assert np.array_equal(lfw.images[lfw.files.index(f)], crop_and_resize(im))


def test_view1_people_are_disjoint_and_complete(lfw_root, lfw):
    train, test = lfw_people(lfw_root, "devtrain"), lfw_people(lfw_root, "devtest")
    assert len(train) == 4038 and len(test) == 1711
    assert not set(train) & set(test)
    assert set(train) | set(test) == set(lfw.names)


def test_view1_test_pairs_use_only_unseen_people(lfw_root):
    assert lfw_pairs(lfw_root, "devtest").names() <= set(lfw_people(lfw_root, "devtest"))
    assert lfw_pairs(lfw_root, "devtrain").names() <= set(lfw_people(lfw_root, "devtrain"))


@pytest.mark.parametrize("which,n,folds", [("devtrain", 2200, 1), ("devtest", 1000, 1), ("view2", 6000, 10)])
def test_pairs_files(lfw_root, lfw, which, n, folds):
    pairs = lfw_pairs(lfw_root, which)
    assert len(pairs) == n and pairs.same.sum() == n // 2
    assert sorted(np.unique(pairs.fold)) == list(range(folds))
    for k in range(folds):  # each fold: matched pairs first, then as many mismatched
        in_fold = pairs.same[pairs.fold == k]
        assert in_fold.sum() == len(in_fold) // 2 and in_fold[: len(in_fold) // 2].all()
    left, right = pairs.indices(lfw)  # every image named exists
    same_person = lfw.labels[left] == lfw.labels[right]
    assert np.array_equal(same_person, pairs.same)


def test_people_txt_has_ten_folds(lfw_root):
    folds = read_people(lfw_root / "people.txt")
    assert len(folds) == 10
    assert sum(len(f) for f in folds) >= 5749  # a few people appear in more than one fold


# --------------------------------------------------------------------------------------------
# Olivetti and plain folders
# --------------------------------------------------------------------------------------------


def test_olivetti(shared_data):
    from scipy.io import loadmat

    faces = load_olivetti(shared_data)
    assert len(faces) == 400 and faces.num_people == 40
    assert np.array_equal(np.bincount(faces.labels), np.full(40, 10))
    raw = loadmat(shared_data / "olivetti" / "olivettifaces.mat")["faces"]
    for i in (0, 123, 399):  # each column is a 64 x 64 image stored column by column
        upright = raw[:, i].reshape(64, 64, order="F")
        assert np.array_equal(faces.images[i, :, :, 0], upright)
        assert np.array_equal(faces.images[i, :, :, 1], upright)


def test_olivetti_from_scikit_learns_cache(shared_data, no_env_data):
    # scikit-learn's fetch_olivetti_faces keeps the faces as <data_home>/olivetti.pkz: a joblib
    # dump of the (400, 4096) array, rows being the .mat file's columns
    import joblib
    from scipy.io import loadmat

    raw = loadmat(shared_data / "olivetti" / "olivettifaces.mat")["faces"]
    joblib.dump(raw.T.copy(), no_env_data / "olivetti.pkz", compress=6)
    assert find_olivetti() == no_env_data / "olivetti.pkz"
    assert np.array_equal(load_olivetti().images, load_olivetti(shared_data).images)


def test_folder_of_people(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    src = shared_data / "lfw" / "lfw-deepfunneled"
    for person, numbers in {"Ann": ["Aaron_Eckhart_0001"], "Bob": ["Zico_0001", "Zico_0002"]}.items():
        (tmp_path / "class" / person).mkdir(parents=True)
        for i, stem in enumerate(numbers):
            shutil.copy(src / stem.rsplit("_", 1)[0] / f"{stem}.jpg", tmp_path / "class" / person / f"photo{i}.jpg")
    (tmp_path / "class" / "Bob" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (tmp_path / "class" / "notes.txt").write_text("ignored")

    faces = load_folder(tmp_path / "class")
    assert faces.names == ["Ann", "Bob"] and faces.labels.tolist() == [0, 1, 1]
    assert faces.skipped == ["Bob/broken.jpg"]
    # the second load comes from the cache: decoding is never called
    monkeypatch.setattr(data, "_decode", lambda *a: pytest.fail("decoded again"))
    again = load_folder(tmp_path / "class")
    assert np.array_equal(again.images, faces.images) and again.files == faces.files
    assert any((tmp_path / "cache").iterdir())


def test_folder_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match="not a folder"):
        load_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="sub-folder"):
        load_folder(tmp_path / "empty")


# --------------------------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------------------------


def test_preprocessing_scales_with_the_photo(lfw_root):
    with Image.open(lfw_root / "lfw-deepfunneled" / "Zico" / "Zico_0001.jpg") as im:
        im.load()
    small = crop_and_resize(im).astype(float)
    big = crop_and_resize(im.resize((500, 500), Image.Resampling.BICUBIC)).astype(float)
    assert np.abs(small - big).mean() < 6  # same face box at twice the resolution
    x = preprocess([im, im.convert("L")])
    assert x.shape == (2, 3, data.INPUT_SIZE, data.INPUT_SIZE)
    assert x.min() >= -1 and x.max() <= 1
    assert np.allclose(x[0].numpy(), to_model_input(small.astype(np.uint8))[0].numpy())


# --------------------------------------------------------------------------------------------
# P x K sampler
# --------------------------------------------------------------------------------------------


def test_pk_batches(lfw, lfw_root):
    train = lfw.of_people(lfw_people(lfw_root, "devtrain"))
    sampler = PKSampler(train.labels, people_per_batch=45, images_per_person=4, seed=3)
    counts = np.bincount(train.labels)
    for step in range(20):
        rows = sampler.batch(step)
        assert len(rows) == 180
        people = train.labels[rows].reshape(45, 4)
        assert (people == people[:, :1]).all()  # K consecutive rows per person
        assert len(set(people[:, 0])) == 45  # P different people
        assert (counts[people[:, 0]] >= 2).all()  # everybody can be an anchor with a positive
        for group, p in zip(rows.reshape(45, 4), people[:, 0]):
            distinct = len(set(group))
            assert distinct == min(4, counts[p])  # no repeats unless the person has fewer than K images
    assert np.array_equal(sampler.batch(7), PKSampler(train.labels, 45, 4, seed=3).batch(7))
    assert not np.array_equal(sampler.batch(7), PKSampler(train.labels, 45, 4, seed=3, rank=1).batch(7))


def test_pk_sampler_refuses_impossible_batches():
    labels = np.array([0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="only 2 people"):
        PKSampler(labels, people_per_batch=3, images_per_person=2)
    with pytest.raises(ValueError, match="K must be"):
        PKSampler(labels, people_per_batch=2, images_per_person=1)


# --------------------------------------------------------------------------------------------
# Any path, from anyone: every OS error becomes a message in plain words
# --------------------------------------------------------------------------------------------

ODD_PATHS = [("x" * 5000, "too long for this system"),
             ("data\x00folder", "null character"),
             ("~no-such-user-of-this-system/data", "user this system does not know")]


@pytest.mark.parametrize("path, words", ODD_PATHS)
def test_an_unusable_path_is_explained_in_plain_words(path, words, no_env_data):
    from lessons.overview import data_status

    for find in (find_lfw, find_olivetti):
        with pytest.raises(DataNotFoundError) as err:
            find(path)
        message = str(err.value)
        assert words in message and "Errno" not in message and len(message) < 5000
    with pytest.raises(data.DataPathError, match=words):
        load_folder(path)
    status = data_status(path)  # the home page's check: an answer, never an exception
    assert not status.lfw.found and not status.given_path_exists and words in status.given_path_problem
    assert words in data.path_exists(path)[1]


@pytest.mark.parametrize("code, words", [(13, "not allowed to read it"), (5, "input/output error"),
                                         (116, "no longer reachable"), (71, "could not read it")])
def test_an_os_error_while_looking_is_explained_and_the_search_goes_on(code, words, no_env_data, shared_data,
                                                                      tmp_path, monkeypatch):
    import errno
    import os

    locked = tmp_path / "locked"
    real_is_dir, real_is_file = Path.is_dir, Path.is_file

    def failing(real):
        def probe(self):
            if str(self).startswith(str(locked)):
                raise OSError(code, os.strerror(code), str(self))
            return real(self)
        return probe

    monkeypatch.setattr(Path, "is_dir", failing(real_is_dir))
    monkeypatch.setattr(Path, "is_file", failing(real_is_file))
    assert code in (errno.EACCES, errno.EIO, errno.ESTALE, errno.EPROTO)
    with pytest.raises(DataNotFoundError) as err:
        find_lfw(locked)
    line = next(line for line in str(err.value).splitlines() if "the path given" in line)
    assert str(locked) in line and "cannot be used" in line and words in line and "Errno" not in line
    monkeypatch.setenv(data.DATA_ENV, str(shared_data))  # a folder that cannot be read is passed over
    assert find_lfw(locked) == shared_data / "lfw"
    with pytest.raises(data.DataPathError, match=words):
        data.lfw_image_dir(locked)


def test_a_protocol_file_that_cannot_be_read_is_explained(tmp_path):
    (tmp_path / "pairs.txt").mkdir()  # a folder where a file should be
    with pytest.raises(data.DataPathError, match="cannot be used: the system could not read it"):
        data.read_pairs(tmp_path / "pairs.txt")
    with pytest.raises(FileNotFoundError):
        data.read_people(tmp_path / "missing.txt")
