"""Classroom features, through Streamlit's AppTest: presenter mode, the state a shared link carries
(`bind="query-params"` on the lessons' main controls), the colour-blind-safe chart palette, and an
app start that does not wait for torch. The same things in a real browser: tests/browser/."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from server import memory, startup
from ui import loaders, presenter, widgets
from tests.helpers import page_text

REPO = Path(__file__).resolve().parents[2]


def run(page: str | None = None, query: dict | None = None, data=None) -> AppTest:
    """The app opened at `page` from a link whose query string is `query`, as a new session."""
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    app.query_params = dict(query or {})
    if data is not None:
        app.session_state["data_path"] = str(data)
    if page:
        app.switch_page(page)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def figures(app: AppTest) -> list[dict]:
    return [json.loads(element.proto.spec) for element in app.get("plotly_chart")]


def last_line_of_fresh_python(tmp_path: Path, script: str, *args: str, env: dict | None = None,
                               timeout: float | None = None) -> str:
    """Run `script` in a new interpreter (from the project folder, with the project on its
    PYTHONPATH) and return the last line it printed: what a module does at import, or to the C
    heap, is seen only in a process of its own."""
    path = tmp_path / "probe.py"
    path.write_text(script)
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO)) if p)
    done = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def widget(app: AppTest, key: str):
    return next(w for kind in ("slider", "select_slider", "toggle", "number_input", "segmented_control")
                for w in app.get(kind) if getattr(w, "key", None) == key)


# --------------------------------------------------------------------------------------------
# Presenter mode
# --------------------------------------------------------------------------------------------


def test_for_projector_enlarges_a_copy_of_the_figure():
    spec = {"data": [{"type": "bar", "x": [1, 2], "y": [3, 4], "textfont": {"size": 10}}],
            "layout": {"height": 400, "margin": {"l": 10, "r": 10, "t": 95, "b": 10, "pad": 4},
                       "title": {"text": "t", "font": {"size": 15}},
                       "annotations": [{"text": "a", "font": {"size": 12, "color": "red"}}]}}
    before = json.dumps(spec, sort_keys=True)
    big = presenter.for_projector(spec)
    assert json.dumps(spec, sort_keys=True) == before  # the (maybe cached, shared) figure is untouched
    scale = presenter.PRESENTER_FONT / 12
    layout = big["layout"]
    assert layout["height"] == round(400 * presenter.PRESENTER_HEIGHT)
    assert layout["font"]["size"] == presenter.PRESENTER_FONT
    assert layout["title"]["font"]["size"] == round(15 * scale, 1)
    assert layout["annotations"][0]["font"] == {"size": round(12 * scale, 1), "color": "red"}
    assert big["data"][0]["textfont"]["size"] == round(10 * scale, 1)
    assert big["data"][0]["x"] == [1, 2]  # data untouched
    assert layout["margin"] == {"l": round(10 * scale), "r": round(10 * scale), "t": round(95 * scale),
                                "b": round(10 * scale), "pad": 4}
    assert presenter.for_projector({"data": [], "layout": {}})["layout"]["height"] == round(
        presenter.PLOTLY_DEFAULT_HEIGHT * presenter.PRESENTER_HEIGHT)


def test_a_trace_as_arrays_sends_the_same_figure_and_stays_as_it_was():
    import numpy as np
    import plotly.io

    from tests.helpers import figure_values

    trace = {"type": "scatter", "mode": "markers", "x": [0.5, 1.25, -2.0], "y": [1, 2, 3], "customdata": [4, 5, 6],
             "text": ["a", "b<br>c", "d"], "hovertemplate": "%{text}<extra></extra>", "name": "photos",
             "marker": {"size": 5, "color": ["rgb(1,2,3)", "red", "blue"], "line": {"width": 1, "color": ["red"] * 3}}}
    arrays = widgets.as_arrays(trace)
    assert trace["x"] == [0.5, 1.25, -2.0] and trace["marker"]["color"] == ["rgb(1,2,3)", "red", "blue"]
    for value in (arrays["x"], arrays["customdata"], arrays["text"], arrays["marker"]["line"]["color"]):
        assert isinstance(value, np.ndarray) and not value.flags.writeable  # shared through a cache
    with pytest.raises(ValueError):
        arrays["x"][0] = 9.0
    assert widgets.as_arrays({"mixed": [1, "a"], "empty": []}) == {"mixed": [1, "a"], "empty": []}
    sent = [json.loads(plotly.io.to_json(widgets.chart([t], "t"), validate=False))["data"][0] for t in (trace, arrays)]
    assert isinstance(sent[1]["x"], dict)  # numbers go as binary
    for key in ("x", "y", "customdata"):
        np.testing.assert_array_equal(figure_values(sent[0][key]), figure_values(sent[1][key]))
    assert sent[1]["text"] == trace["text"] and sent[1]["marker"] == sent[0]["marker"]
    assert {k: v for k, v in sent[1].items() if k not in ("x", "y", "customdata")} == \
        {k: v for k, v in sent[0].items() if k not in ("x", "y", "customdata")}


def test_long_titles_are_wrapped_for_the_projector_and_short_ones_kept():
    title = "Around the anchor: hard (inside), semi-hard (ring), easy (outside)"
    big = presenter.for_projector({"data": [], "layout": {"title": {"text": title, "x": 0}}})["layout"]["title"]
    lines = big["text"].split("<br>")
    assert len(lines) == 2 and " ".join(lines) == title  # every word kept, in order
    assert all(len(line) <= presenter.PRESENTER_TITLE_CHARS for line in lines) and big["x"] == 0
    # The chart's top margin grows by the added line, so the title does not run into the plot.
    spec = {"data": [], "layout": {"title": {"text": title}, "margin": {"t": 40}}}
    assert presenter.for_projector(spec)["layout"]["margin"]["t"] == round(40 * presenter.PRESENTER_FONT_SCALE) + round(
        1.3 * presenter.PRESENTER_FONT)
    assert presenter.wrap_title("Loss over alpha") == "Loss over alpha"
    assert presenter.wrap_title("Already<br>two lines of a title that is quite long indeed") == (
        "Already<br>two lines of a title that is quite long indeed")


@pytest.mark.slow
def test_every_chart_uses_the_okabe_ito_palette(shared_data):
    for page in ("pages/loss.py", "pages/evaluation.py"):
        app = run(page, data=shared_data)
        assert figures(app) and all(f["layout"]["colorway"] == widgets.PALETTE for f in figures(app)), page


@pytest.mark.slow
def test_a_presenter_link_opens_without_the_sidebar_and_with_large_charts(shared_data):
    normal = run("pages/margin.py", data=shared_data)
    sidebar_keys = [getattr(w, "key", None) for w in normal.sidebar.get("text_input") + normal.sidebar.get("toggle")]
    assert sidebar_keys == ["data_path_box", "presenter"]
    assert normal.toggle(key="presenter").value is False
    assert not [h for h in normal.get("html") if "font-size" in str(h.proto.body)]

    shown = run("pages/margin.py", {"presenter": "true"}, data=shared_data)
    assert shown.toggle(key="presenter").value is True
    assert not shown.sidebar.get("text_input") and not shown.sidebar.get("toggle")  # nothing left in the sidebar
    assert shown.main.get("toggle")[0].key == "presenter"  # the way back, at the top of the page
    css = [str(h.proto.body) for h in shown.get("html")]
    assert any('[data-testid="stSidebar"]' in c and "display: none" in c for c in css)
    small, big = figures(normal), figures(shown)
    assert len(small) == len(big)
    for a, b in zip(small, big):
        assert b["layout"]["height"] == round((a["layout"].get("height") or presenter.PLOTLY_DEFAULT_HEIGHT)
                                              * presenter.PRESENTER_HEIGHT)
        assert b["layout"]["font"]["size"] >= presenter.PRESENTER_FONT
        assert b["data"] == a["data"]  # the same chart, only drawn bigger


def test_switching_presenter_mode_on_and_off_keeps_the_page_and_its_settings(shared_data):
    app = run("pages/margin.py", data=shared_data)
    app.slider(key="margin-alpha").set_value(0.6).run()
    app.sidebar.toggle(key="presenter").set_value(True).run()
    assert not app.exception
    assert not app.sidebar.get("text_input") and app.slider(key="margin-alpha").value == 0.6
    assert figures(app)[0]["layout"]["font"]["size"] >= presenter.PRESENTER_FONT
    app.main.toggle(key="presenter").set_value(False).run()
    assert not app.exception
    assert app.sidebar.text_input(key="data_path_box").value == str(shared_data)
    assert app.slider(key="margin-alpha").value == 0.6
    assert "font" not in figures(app)[0]["layout"] or figures(app)[0]["layout"]["font"].get("size", 0) < 20


# --------------------------------------------------------------------------------------------
# Shareable state: a link restores the view
# --------------------------------------------------------------------------------------------

LINKS = [
    ("pages/loss.py", {"loss-alpha": "0.7", "loss-batch-n": "20", "loss-batch-seed": "3"},
     {"loss-alpha": 0.7, "loss-batch-n": 20, "loss-batch-seed": 3}),
    ("pages/margin.py", {"margin-alpha": "1.5", "margin-people": "12", "margin-seed": "5"},
     {"margin-alpha": 1.5, "margin-people": 12, "margin-seed": 5}),
    ("pages/mining.py", {"mining_alpha": "0.5", "mining_strategy": "batch-hard (hardest)", "mining_seed": "7",
                         "mining_unseen": "true"},
     {"mining_alpha": 0.5, "mining_strategy": "hard", "mining_seed": 7, "mining_unseen": True}),
    ("pages/optimizers.py", {"opt-steps": "100", "opt-start-w1": "1.0", "opt-lr-sgd": "0.02"},
     {"opt-steps": 100, "opt-start-w1": 1.0, "opt-lr-sgd": 0.02}),
    ("pages/activations.py", {"act-depth": "35", "act-init": "Xavier (Glorot)", "act-bias-shift": "-1.0"},
     {"act-depth": 35, "act-init": "xavier", "act-bias-shift": -1.0}),
    ("pages/networks.py", {"nets-input-size": "224", "nets-width": "x2", "nets-measure": "multiply-adds"},
     {"nets-input-size": 224, "nets-width": "x2", "nets-measure": "multiply-adds"}),
    ("pages/evaluation.py", {"eval-threshold": "0.9", "openset-threshold": "0.45", "pct-distance": "1.2"},
     {"eval-threshold": 0.9, "openset-threshold": 0.45, "pct-distance": 1.2}),
]


@pytest.mark.slow
@pytest.mark.parametrize("page, query, expected", LINKS, ids=[Path(p).stem for p, _, _ in LINKS])
def test_a_link_restores_the_lessons_settings(page, query, expected, shared_data):
    default = run(page, data=shared_data)
    linked = run(page, query, data=shared_data)
    assert {key: linked.session_state[key] for key in expected} == expected
    assert {key: widget(linked, key).value for key in expected} == expected  # what the widgets show
    assert {key: widget(default, key).value for key in expected} != expected
    assert (figures(linked), page_text(linked)) != (figures(default), page_text(default))  # a different view
    assert linked.query_params == query  # kept in the address: the link can be passed on as it is


@pytest.mark.slow
def test_an_explorer_link_restores_the_run_and_the_training_step(shared_data):
    """The README's link to the batch-hard run before training: the step and the mining come back
    from the address, not the page's defaults (the last step, semi-hard)."""
    query = {"mining": "Hardest negatives (batch-hard)", "step": "0"}
    linked = run("pages/explorer.py", query, data=shared_data)
    assert (linked.session_state["mining"], linked.session_state["step"]) == ("hard", 0)
    assert linked.get("select_slider")[1].value == 0  # the step slider shows it
    assert "step 0" in page_text(linked) or any("step 0" in str(f["layout"].get("title")) for f in figures(linked))
    default = run("pages/explorer.py", data=shared_data)
    assert default.session_state["step"] != 0 and default.session_state["mining"] != "hard"
    assert linked.query_params == query
    # Every margin a student can pick, FaceNet's 0.2 and the first one included, survives a link.
    for alpha in ("0.05", "0.2", "1.0"):
        assert run("pages/explorer.py", {"alpha": alpha}, data=shared_data).session_state["alpha"] == float(alpha)


def test_a_link_shows_what_moving_the_slider_shows(shared_data):
    """Opening ?eval-threshold=0.9 gives the very numbers a student gets by dragging the slider to 0.9."""
    linked = run("pages/evaluation.py", {"eval-threshold": "0.9"}, data=shared_data)
    dragged = run("pages/evaluation.py", data=shared_data)
    before = [(m.label, m.value) for m in dragged.metric]
    dragged.slider(key="eval-threshold").set_value(0.9).run()
    after = [(m.label, m.value) for m in dragged.metric]
    assert after != before
    assert [(m.label, m.value) for m in linked.metric] == after
    assert figures(linked) == figures(dragged)


def test_an_optimizer_link_naming_a_surface_starts_from_that_surface(shared_data):
    from lessons import optimizers as opt

    saddle = opt.SURFACES["saddle"]
    app = run("pages/optimizers.py", {"opt-surface": saddle.name}, data=shared_data)
    state = app.session_state
    assert state["opt-surface"] == "saddle"
    assert (state["opt-start-w1"], state["opt-start-w2"]) == saddle.start
    assert (state["opt-lr-sgd"], state["opt-lr-adagrad"]) == (saddle.suggested_lr["SGD"], saddle.suggested_lr["AdaGrad"])


@pytest.mark.parametrize("query", [{"margin-alpha": "99"}, {"margin-alpha": "abc"}, {"margin-people": "-4"},
                                   {"presenter": "maybe"}])
def test_a_broken_link_falls_back_to_the_defaults(query, shared_data):
    app = run("pages/margin.py", query, data=shared_data)
    assert (app.slider(key="margin-alpha").value, app.slider(key="margin-people").value) == (0.2, 8)
    assert app.toggle(key="presenter").value is False


def test_the_lessons_bind_their_main_controls_to_the_address():
    """Every lesson page binds the widgets a teacher would point at: its margin, mining, threshold,
    steps and seed (checked in the source, so a page that drops a binding fails here)."""
    wanted = {"pages/loss.py": ["loss-alpha", "loss-batch-seed"], "pages/margin.py": ["margin-alpha", "margin-seed"],
              "pages/mining.py": ["mining_alpha", "mining_strategy", "mining_seed"],
              "pages/optimizers.py": ["opt-surface", "opt-steps", "opt-lr-sgd", "opt-start-w1"],
              "pages/activations.py": ["act-depth", "act-init"], "pages/networks.py": ["nets-input-size"],
              "pages/evaluation.py": ["eval-threshold", "openset-threshold"]}
    for page, keys in wanted.items():
        source = (REPO / page).read_text()
        for key in keys:
            at = source.index(f'key="{key}"')
            assert 'bind="query-params"' in source[at:at + 80], (page, key)


# --------------------------------------------------------------------------------------------
# Start-up: nothing heavy before the first page is on screen
# --------------------------------------------------------------------------------------------


def test_the_data_folder_variable_is_the_loaders():
    from model.data import DATA_ENV

    assert loaders.DATA_ENV == DATA_ENV


STARTUP_PROBE = textwrap.dedent("""
    import json, sys, traceback
    HEAVY = ("torch", "umap", "sklearn", "model.train", "model.maps")
    first = {{}}

    class Watch:
        def find_spec(self, name, path=None, target=None):
            if name in HEAVY and name not in first:
                first[name] = [(f.filename, f.lineno) for f in traceback.extract_stack()]
            return None

    sys.meta_path.insert(0, Watch())
    from streamlit.testing.v1 import AppTest
    app = AppTest.from_file({app!r}, default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    from model.shipped import DEFAULT_CHECKPOINT
    text = " ".join(m.value for m in app.markdown)
    assert DEFAULT_CHECKPOINT.name in text and "LFW found" in " ".join(s.value for s in app.success), text
    print(json.dumps(first))
""")


@pytest.mark.slow
def test_the_whole_home_page_is_drawn_without_torch(shared_data, tmp_path):
    """In a fresh interpreter: app.py and the home page, its model and data checks included, import
    neither torch nor scikit-learn nor umap nor the training code. Torch may be imported only by the background
    import the page starts once it is drawn (server.startup.import_in_background), for the lessons."""
    first = json.loads(last_line_of_fresh_python(tmp_path, STARTUP_PROBE.format(app=str(REPO / "app.py")),
                                                 env={**os.environ, "FACENET_DATA": str(shared_data)}))
    assert not {"umap", "sklearn", "model.train", "model.maps"} & set(first), {k: v[-6:] for k, v in first.items()}
    if "torch" in first:
        files = {Path(file).name for file, _ in first["torch"]}
        assert "startup.py" in files and not files & {"app.py", "home.py"}, first["torch"][-8:]


def test_a_background_import_happens_once_on_its_own_thread(monkeypatch):
    imported, release = [], threading.Event()

    def slow_import(name):  # stands for torch: still importing when the next visitor comes
        imported.append((name, threading.current_thread().name))
        release.wait(30)

    monkeypatch.setattr(startup, "importlib", SimpleNamespace(import_module=slow_import))
    name = f"lesson_code_{uuid.uuid4().hex}"
    startup.import_in_background(name)
    startup.import_in_background(name)  # a second visitor while the first import runs: nothing more
    running = [t for t in threading.enumerate() if t.name == f"facenet-import-{name}"]
    assert len(running) == 1 and running[0].daemon
    release.set()
    running[0].join(30)
    assert imported == [(name, f"facenet-import-{name}")]
    startup.import_in_background(name)  # and none after it
    assert len(imported) == 1


def test_a_failed_background_import_is_quiet(monkeypatch):
    """The lesson that needs the module imports it itself and shows what is wrong; the server's log
    gets no traceback from the background thread."""
    uncaught = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    name = f"no_such_module_{uuid.uuid4().hex}"
    startup.import_in_background(name)
    for thread in [t for t in threading.enumerate() if t.name == f"facenet-import-{name}"]:
        thread.join(30)
    assert uncaught == [] and name not in sys.modules


# In a fresh interpreter (Streamlit makes its REPL check once per process): how often the check
# runs when the first element is sent, with and without app.py's skip.
REPL_CHECK_PROBE = """
import sys
import streamlit.delta_generator as delta_generator
from streamlit import env_util
from server import memory, startup

checks = []
env_util.is_repl = lambda: checks.append(1) or False
if sys.argv[1] == "skip":
    startup.skip_streamlit_repl_check()
delta_generator._maybe_print_use_warning()  # what Streamlit calls before sending each element
delta_generator._maybe_print_use_warning()
print(len(checks))
"""


@pytest.mark.parametrize("mode, checks", [("skip", 0), ("keep", 1)])
def test_streamlits_repl_check_is_skipped(tmp_path, mode, checks):
    """The flag app.py sets still guards the check in the pinned Streamlit (the "keep" case shows
    the probe sees the check when it runs). A Streamlit that renames it fails here."""
    assert int(last_line_of_fresh_python(tmp_path, REPL_CHECK_PROBE, mode)) == checks


def test_heavy_loads_are_frozen_once_so_each_run_collects_little():
    import gc
    import importlib

    memory.keep_gc_fast()
    frozen = gc.get_freeze_count()
    memory.keep_gc_fast()
    assert gc.get_freeze_count() == frozen  # nothing new: no collection, no freeze
    name = next(n for n in ("colorsys", "wave", "sndhdr", "this") if n not in __import__("sys").modules)
    importlib.import_module(name)
    memory.keep_gc_fast()
    assert gc.get_freeze_count() > frozen  # a new module: everything alive is moved out of the GC's way
    frozen = gc.get_freeze_count()
    memory.first_load("a test loader")
    keep = [[] for _ in range(1000)]  # new tracked objects
    memory.keep_gc_fast()
    assert gc.get_freeze_count() >= frozen + 1000 and keep
    frozen = gc.get_freeze_count()
    memory.first_load("a test loader")  # its second load (a cleared cache): not frozen again
    memory.keep_gc_fast()
    assert gc.get_freeze_count() == frozen


# In a fresh interpreter: a session's worth of freed C-heap memory (objects over Python's 512-byte
# small-object limit come from malloc), pinned by every 64th object so glibc cannot shrink the
# heap from its top by itself.
TRIM_PROBE = """
import json, threading
from server import memory, startup

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

memory.hand_memory_back()
memory.hand_memory_back()
kept, freed = [], []
for i in range(200_000):
    (kept if i % 64 == 0 else freed).append(bytearray(1024))
full = rss_mb()
del freed
after_free = rss_mb()
memory.trim_free_memory()
print(json.dumps(dict(full=full, after_free=after_free, after_trim=rss_mb(), kept=len(kept),
                      trimmers=sum(t.name == memory.TRIM_THREAD for t in threading.enumerate()))))
"""


@pytest.mark.skipif(memory.glibc() is None, reason="malloc_trim is glibc's (Linux)")
def test_freed_memory_goes_back_to_the_system(tmp_path):
    mb = json.loads(last_line_of_fresh_python(tmp_path, TRIM_PROBE))
    assert mb["trimmers"] == 1  # one trimming thread per server, however many runs call it
    assert mb["after_free"] > mb["full"] - 50  # freed, but the pages stay with the process...
    assert mb["after_trim"] < mb["after_free"] - 120  # ...until trimmed: ~190 MB of the 200 go back


# In a fresh interpreter that loads the load bench's heap probe (bench/heap_probe on PYTHONPATH):
# 100 MB of malloc'd buffers, then freed with every 64th kept, so the heap cannot shrink from its top.
HEAP_READINGS = """
import json, os, time

def fresh_reading():
    asked = time.time()
    while not os.path.exists(os.environ["BENCH_HEAP_FILE"]) or os.stat(os.environ["BENCH_HEAP_FILE"]).st_mtime <= asked:
        time.sleep(0.05)
    with open(os.environ["BENCH_HEAP_FILE"]) as reading:
        return json.load(reading)

start = fresh_reading()
kept, freed = [], []
for i in range(100_000):
    (kept if i % 64 == 0 else freed).append(bytearray(1024))
full = fresh_reading()
del freed
after_free = fresh_reading()
print(json.dumps(dict(start=start, full=full, after_free=after_free)))
"""


@pytest.mark.slow
@pytest.mark.skipif(memory.glibc() is None or not hasattr(memory.glibc(), "mallinfo2"),
                    reason="mallinfo2 is glibc's (2.33 and later)")
def test_the_load_benchs_heap_probe_tells_memory_in_use_from_memory_kept_free(tmp_path):
    """bench/bench_load.py reads the server's allocators through this probe: what a closed class
    gave back must show as free, not in use, even while the process keeps the pages."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO / "bench" / "heap_probe"),
                                                                     os.environ.get("PYTHONPATH")) if p),
           "BENCH_HEAP_FILE": str(tmp_path / "heap.json")}
    mb = json.loads(last_line_of_fresh_python(tmp_path, HEAP_READINGS, env=env, timeout=60))
    in_use = [mb[k]["malloc_in_use_mb"] for k in ("start", "full", "after_free")]
    assert 95 < in_use[1] - in_use[0] < 120  # 100,000 buffers of 1 kB (and their malloc headers)
    assert in_use[1] - in_use[2] > 90  # freed: no longer in use...
    assert mb["after_free"]["malloc_free_mb"] - mb["full"]["malloc_free_mb"] > 80  # ...but kept, free, by malloc
    assert mb["full"]["python_blocks"] - mb["start"]["python_blocks"] >= 100_000  # each bytearray's own object


# Parameters a student sets; a cache keyed by them grows with every value anyone tries.
STUDENT_CHOSEN = {"seed", "people", "photos", "alpha", "threshold", "step", "enrolled", "depth", "width", "shift",
                  "lr", "input_size", "row", "photo_rows", "key", "linkage", "unseen", "init", "name"}


def test_caches_keyed_by_what_students_choose_are_bounded():
    """A server serves class after class: every st.cache_* keyed by a student's choice (a seed, a
    batch size, a margin...) must say how many entries it keeps (checked in the source)."""
    import ast

    unbounded = []
    for path in sorted((REPO / "pages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                name = ast.unparse(call.func if call else decorator)
                if name not in ("st.cache_data", "st.cache_resource"):
                    continue
                keyed_by = {a.arg for a in node.args.args if not a.arg.startswith("_")}
                bounded = call is not None and any(k.arg in ("max_entries", "ttl") for k in call.keywords)
                if keyed_by & STUDENT_CHOSEN and not bounded:
                    unbounded.append(f"{path.name}: {node.name}({', '.join(sorted(keyed_by))})")
    assert not unbounded, unbounded
