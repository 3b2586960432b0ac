"""The home page's logic: the course plan (its words are in content/en/course.toml), and what the
app can find of its data and model.

Kept free of Streamlit so it can be tested directly, and of torch: the model is described from
the card shipped beside it, and `model.embed` (torch) is imported only when a checkpoint has to be
loaded. The `model` modules are imported inside the functions that use them, so importing this
module (for `COURSE`, say) stays cheap.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from lessons.content import ContentError, tables

# --------------------------------------------------------------------------------------------
# The path through the course
# --------------------------------------------------------------------------------------------


REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Lesson:
    """One lesson of the course. Its words (title, goal, menu title) are read from the course plan,
    ``content/<language>/course.toml``, at each use, so an edited plan shows without a restart."""

    page: str  # the page script, relative to the repository
    icon: str

    @property
    def name(self) -> str:
        """The lesson's name: its page's file name ("loss" for pages/loss.py), its table in the plan."""
        return Path(self.page).stem

    def _words(self) -> dict:
        try:
            return tables("course")[self.name]
        except KeyError:
            raise ContentError(f"content/en/course.toml has no table [{self.name}]") from None

    @property
    def title(self) -> str:
        return self._words()["title"]

    @property
    def goal(self) -> str:
        """One line: what a student can do or explain after the lesson."""
        return self._words()["goal"]

    @property
    def nav_title(self) -> str:
        """Short title for the navigation menu."""
        return self._words()["nav_title"]

    @property
    def available(self) -> bool:
        """A lesson is listed in the menu once its page exists."""
        return (REPO / self.page).is_file()


COURSE: list[Lesson] = [
    Lesson("pages/loss.py", ":material/change_history:"),
    Lesson("pages/margin.py", ":material/straighten:"),
    Lesson("pages/mining.py", ":material/filter_alt:"),
    Lesson("pages/optimizers.py", ":material/speed:"),
    Lesson("pages/activations.py", ":material/show_chart:"),
    Lesson("pages/networks.py", ":material/account_tree:"),
    Lesson("pages/evaluation.py", ":material/rule:"),
    Lesson("pages/explorer.py", ":material/scatter_plot:"),
    Lesson("pages/your_faces.py", ":material/add_a_photo:"),
]


def lesson(page: str) -> Lesson:
    """The lesson whose page script is `page` (e.g. "pages/loss.py")."""
    for candidate in COURSE:
        if candidate.page == page:
            return candidate
    raise KeyError(page)


# --------------------------------------------------------------------------------------------
# The data
# --------------------------------------------------------------------------------------------

LFW_PROTOCOL_FILES = ("pairs.txt", "pairsDevTrain.txt", "pairsDevTest.txt",
                      "people.txt", "peopleDevTrain.txt", "peopleDevTest.txt")


@dataclass(frozen=True)
class DatasetStatus:
    name: str
    found: bool
    location: str | None = None  # LFW: the folder holding the images; Olivetti: the file
    problem: str = ""  # when not found: where the loader looked (how to get it is in DataStatus)
    people: int | None = None  # LFW only
    images: int | None = None  # LFW only
    protocol_present: tuple[str, ...] = ()
    protocol_missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataStatus:
    given_path: str | None  # the folder the user typed, if any
    given_path_exists: bool
    lfw: DatasetStatus
    olivetti: DatasetStatus
    how_to_get_data: str
    given_path_problem: str = ""  # why the given path cannot be used (too long, not readable...), in plain words

    @property
    def lfw_complete(self) -> bool:
        """LFW images and every protocol file are there: all face pages can run."""
        return self.lfw.found and not self.lfw.protocol_missing


@functools.lru_cache(maxsize=8)
def count_lfw(image_dir: str) -> tuple[int, int]:
    """(people folders, *.jpg images) under LFW's image folder. Walks 13k files, so cached."""
    people = images = 0
    with os.scandir(image_dir) as entries:
        for person in entries:
            if person.is_dir() and not person.name.startswith("."):
                people += 1
                with os.scandir(person.path) as photos:
                    images += sum(1 for f in photos if f.name.lower().endswith(".jpg"))
    return people, images


def data_status(path: str | None = None) -> DataStatus:
    """Where LFW and the Olivetti faces were found (or why not), given an optional folder."""
    from model.data import (HOW_TO_GET_DATA, DataNotFoundError, find_lfw, find_olivetti, lfw_image_dir,
                            lfw_protocol_file, path_exists, path_problem, shown_path)

    path = (path or "").strip() or None

    def where_it_looked(err: DataNotFoundError) -> str:
        # The loaders append the how-to text to every message; the page shows it once, not per dataset.
        return str(err).replace(HOW_TO_GET_DATA, "").strip()

    try:
        root = find_lfw(path)
        image_dir = lfw_image_dir(root)
    except DataNotFoundError as err:
        lfw = DatasetStatus("LFW", found=False, problem=where_it_looked(err))
    else:
        try:
            people, images = count_lfw(str(image_dir))
        except OSError as err:  # found, but a folder in it cannot be read
            people = images = None
            lfw = DatasetStatus("LFW", found=False, problem=f"LFW was found in {shown_path(image_dir)}, but it "
                                                            f"cannot be read: {path_problem(err)}.")
        if people is not None:
            present, missing = [], []
            for name in LFW_PROTOCOL_FILES:
                try:
                    lfw_protocol_file(root, name)
                    present.append(name)
                except DataNotFoundError:
                    missing.append(name)
            lfw = DatasetStatus("LFW", found=True, location=str(image_dir), people=people, images=images,
                                protocol_present=tuple(present), protocol_missing=tuple(missing))
    try:
        olivetti = DatasetStatus("Olivetti", found=True, location=str(find_olivetti(path)))
    except DataNotFoundError as err:
        olivetti = DatasetStatus("Olivetti", found=False, problem=where_it_looked(err))
    given_exists, given_problem = path_exists(path) if path is not None else (False, "")
    return DataStatus(path, given_exists, lfw, olivetti, HOW_TO_GET_DATA, given_problem)


def data_places(path: str | None = None) -> list[tuple[str, str]]:
    """Every place the app looks for the data, in its order (model.data's search), with what each
    holds now: (the place, the folder or why there is none). The same three whatever is set."""
    from model.data import DATA_ENV, _sklearn_data_home, shown_path

    path = (path or "").strip()
    env = os.environ.get(DATA_ENV, "").strip()
    home = _sklearn_data_home()
    return [("the Data folder box in the sidebar (or `--data-path` after `streamlit run app.py --`)",
             shown_path(path) if path else "empty"),
            (f"the environment variable `{DATA_ENV}`", shown_path(env) if env else "not set"),
            ("scikit-learn's data home (`$SCIKIT_LEARN_DATA`, else `~/scikit_learn_data`)",
             shown_path(home) if home is not None else "none: scikit-learn is not installed")]


def data_beside_repository() -> Path | None:
    """The `../shared/data` folder beside the repository (where the tests read the data), when it
    holds LFW: the app itself never looks there unless told to."""
    folder = REPO.parent / "shared" / "data"
    try:
        return folder.resolve() if (folder / "lfw").is_dir() else None
    except OSError:
        return None


def facenet_data_line(folder: str | os.PathLike | None = None) -> str:
    """The exact command that starts the course on the data in `folder` (a placeholder when None)."""
    import shlex

    from model.data import DATA_ENV

    where = shlex.quote(str(folder)) if folder is not None else "/path/to/data"
    return f"{DATA_ENV}={where} streamlit run app.py"


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

# Metrics the trainer writes into the model card, with how the home page labels them (in this
# order). What each means is the home page's help text (content/<language>/home.md, "help-metric-*").
# LFW's protocols: View 1 is the development split (choose on pairsDevTrain, measure once
# on pairsDevTest); View 2 is the reporting split, ten folds of pairs.txt, each judged with what
# was chosen on the other nine. The ten-fold number on pairsDevTest borrows View 2's procedure
# inside View 1's test pairs, so its thresholds are chosen on the very people it is measured on.
METRIC_LABELS = {
    "view1_devtest_accuracy_devtrain_threshold": "Accuracy on new people, threshold fixed on pairsDevTrain (View 1)",
    "view1_devtest_accuracy": "Accuracy on new people, threshold tuned on their own pairs (ten folds of pairsDevTest)",
    "view1_devtest_val_at_far_1e-3": "VAL at FAR = 0.001 on new people (pairsDevTest)",
    "view2_accuracy_mean": "Accuracy on View 2's ten folds: people shared with training",
}
STANDARD_ERRORS = {"view1_devtest_accuracy": "view1_devtest_accuracy_standard_error",
                   "view2_accuracy_mean": "view2_accuracy_standard_error"}


ARCH_NAMES = {"inception": "Inception-style (the paper's NN2 family)",
              "zf": "Zeiler & Fergus-style (the paper's NN1 family)"}


@dataclass(frozen=True)
class Metric:
    key: str  # the card's name for it (a key of METRIC_LABELS)
    label: str
    value: str
    vs_baseline: str | None = None  # how far above the eigenfaces (PCA) baseline, if the card has it


@dataclass(frozen=True)
class ModelStatus:
    found: bool
    path: str
    problem: str = ""  # when not found: CheckpointError's message, meant for the user
    arch: str | None = None
    embedding_dim: int | None = None
    input_size: int | None = None
    card: dict = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return Path(self.path).name

    @property
    def arch_name(self) -> str:
        return ARCH_NAMES.get(self.arch, str(self.arch))

    @property
    def provisional(self) -> bool:
        """A model trained on the CPU stands in until a GPU-trained one replaces it."""
        return self.card.get("device") == "cpu"

    @property
    def facts(self) -> list[tuple[str, str]]:
        """(label, text) for what the model card says about how the model was made; missing keys are left out."""
        card = self.card
        rows = [
            ("Trained on", card.get("device")),
            ("PyTorch", card.get("torch")),
            ("Data set", card.get("dataset")),
            ("Split", card.get("split")),
            ("Parameters", _count(card.get("parameters"))),
            ("Multiply-adds per image", _count(card.get("multiply_adds_per_image"))),
            ("Training time", _duration(card.get("wall_time_s"))),
            ("Training speed", _rate(card.get("images_per_s"))),
            ("Created", _date(card.get("created"))),
        ]
        return [(label, str(text)) for label, text in rows if text not in (None, "")]

    @property
    def metrics(self) -> list[Metric]:
        measured = self.card.get("metrics") or {}
        baseline = measured.get("pca_baseline") or {}
        out = []
        for key, label in METRIC_LABELS.items():
            if key not in measured:
                continue
            value = _with_error(measured[key], measured.get(STANDARD_ERRORS.get(key, "")))
            out.append(Metric(key, label, value, _versus(measured[key], baseline.get(key))))
        return out

    @property
    def protocols(self) -> dict[str, float] | None:
        """The card's three LFW accuracies, for the sentence under the tiles that says which one
        compares with what: {"fixed": threshold fixed on pairsDevTrain, "tuned": ten folds inside
        pairsDevTest, "view2": View 2's ten folds}; None unless the card has all three as numbers."""
        measured = self.card.get("metrics") or {}
        keys = {"fixed": "view1_devtest_accuracy_devtrain_threshold", "tuned": "view1_devtest_accuracy",
                "view2": "view2_accuracy_mean"}
        values = {name: measured.get(key) for name, key in keys.items()}
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()):
            return None
        return {name: float(v) for name, v in values.items()}


def model_status(path: str | os.PathLike | None = None,
                 load: Callable[[Path], object] | None = None) -> ModelStatus:
    """What the checkpoint at `path` (the shipped default when None) is, or why it cannot be used.

    A checkpoint shipped with its card and LFW embeddings, unchanged since, is described from its
    card without loading it (`model.shipped.verified_card`: no torch, so the welcome page is quick).
    Any other is loaded with `load` (default `model.embed.load_model`); the app passes a cached
    loader so the network is built once, not on every rerun.
    """
    from model import shipped

    checkpoint = Path(path) if path else shipped.DEFAULT_CHECKPOINT
    card = shipped.verified_card(checkpoint)
    config = card.get("hyperparameters") if card else None
    if isinstance(config, dict) and all(key in config for key in ("arch", "embedding_dim", "input_size")):
        return ModelStatus(found=True, path=str(checkpoint), arch=config["arch"], embedding_dim=config["embedding_dim"],
                           input_size=config["input_size"], card=card)

    from model.embed import CheckpointError, load_model

    try:
        loaded = (load or load_model)(checkpoint)
    except CheckpointError as err:
        return ModelStatus(found=False, path=str(checkpoint), problem=str(err))
    config = loaded.config
    return ModelStatus(found=True, path=str(loaded.path or checkpoint), arch=config.arch,
                       embedding_dim=config.embedding_dim, input_size=config.input_size,
                       card=dict(loaded.card or {}))


# --------------------------------------------------------------------------------------------
# Formatting: model cards come from older and newer trainers, so every value may be missing
# or of an unexpected type; anything unexpected is shown as it is.
# --------------------------------------------------------------------------------------------


def _percent(x) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:.1f}%" if isinstance(x, (int, float)) else str(x)


def _with_error(mean, error) -> str:
    if isinstance(mean, (int, float)) and isinstance(error, (int, float)):
        return f"{100 * mean:.1f}% ± {100 * error:.1f}"
    return _percent(mean)


def _versus(value, baseline) -> str | None:
    if isinstance(value, (int, float)) and isinstance(baseline, (int, float)):
        return f"{100 * (value - baseline):+.1f} points vs eigenfaces ({_percent(baseline)})"
    return None


def _count(n) -> str | None:
    if not isinstance(n, (int, float)):
        return n
    for size, unit in ((1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:,}"


def _duration(seconds) -> str | None:
    if not isinstance(seconds, (int, float)):
        return seconds
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _rate(per_second) -> str | None:
    return f"{per_second:,.0f} images/s" if isinstance(per_second, (int, float)) else per_second


def _date(iso) -> str | None:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M %Z").strip()
    except (TypeError, ValueError):
        return iso
