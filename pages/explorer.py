"""Lesson 8, "Embedding explorer": the map of 3,023 real LFW photos as the comparison runs trained
them (pick alpha, the mining and the step) or as the shipped model sees them; selection shows faces
and neighbours, a count of how many of each photo's neighbours the map keeps, clustering cuts the
embedding at a threshold, a softmax classifier meets strangers next to a distance threshold, and a
short run trains live on the CPU. Layout only: the numbers come from lessons/explorer.py and
lessons/live_training.py."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lessons import explorer as lesson
from lessons import live_training
from lessons.content import LessonText
from model import sweep
from ui.colors import BLUE, GREY, ORANGE, VERMILLION
from ui.loaders import data_path, explorer_maps, face_model, lfw_photos, photo_index
from ui.widgets import chart, check_yourself, lesson_header, plot, predict_then_see, thumbnail, try_this

words = LessonText("explorer")
MAP_KEY = "explorer_map"
MAX_SELECTED = 6

# --------------------------------------------------------------------------------------------
# Cached computations: per (run, step), shared by every session
# --------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def run_cards(stamp: tuple) -> dict[str, sweep.Run]:
    return sweep.load_runs("lessons-cpu")


@st.cache_resource(show_spinner=False, max_entries=128)
def embeddings_at(run: str, step: int, _maps) -> np.ndarray:
    return _maps.runs[run].embeddings(step)


@st.cache_resource(show_spinner="Building the cluster tree of this map (once per step)...", max_entries=64)
def cluster_tree(run: str, step: int, linkage: str, _maps) -> np.ndarray:
    return lesson.cluster_tree(embeddings_at(run, step, _maps), linkage)


@st.cache_resource(show_spinner=False, max_entries=128)
def explorer_threshold(run: str, step: int, _maps) -> tuple[float, float]:
    unseen = np.flatnonzero(~_maps.seen)
    return lesson.threshold_at_far(embeddings_at(run, step, _maps), _maps.labels, unseen)


@st.cache_resource(show_spinner=False, max_entries=256)
def clusters(run: str, step: int, linkage: str, threshold: float, _maps) -> tuple[np.ndarray, lesson.ClusterScores]:
    found = lesson.clusters_at(cluster_tree(run, step, linkage, _maps), threshold)
    return found, lesson.cluster_scores(found, _maps.labels)


@st.cache_resource(show_spinner=False, max_entries=64)
def cluster_curve(run: str, step: int, linkage: str, _maps) -> dict[str, np.ndarray]:
    return lesson.cluster_curve(cluster_tree(run, step, linkage, _maps), _maps.labels,
                                np.round(np.linspace(0.05, 3.0, 60), 3))


@st.cache_resource(show_spinner="Counting the neighbours this map keeps (once per step)...", max_entries=128)
def faithfulness(run: str, step: int, _maps) -> lesson.Faithfulness:
    return lesson.faithfulness(_maps.runs[run], step)


@st.cache_resource(show_spinner="Training the classifier on this step's embeddings...", max_entries=128)
def classifier_comparison(run: str, step: int, known: int, threshold: float, _maps) -> lesson.OpenSetComparison:
    return lesson.classifier_vs_threshold(embeddings_at(run, step, _maps), _maps.labels, known, threshold)


@st.cache_resource(show_spinner="Loading the photos for the live run...", max_entries=4)  # keyed by the data folder
def live_set(which: str, data_folder: str):
    from model.data import load_olivetti

    if which == "olivetti":
        return live_training.olivetti_set(load_olivetti(data_folder or None))
    return None  # LFW: built from the shared LFW photos below


@st.cache_resource(show_spinner=False, max_entries=2)  # keyed by where the photos came from
def live_lfw_set(source: str, count: int, _faces):
    return live_training.lfw_set(_faces)


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

lesson_header("pages/explorer.py")
st.markdown(words("intro"))

maps = explorer_maps()
if maps is None:
    st.stop()
model = face_model()  # for the shipped model's card; the comparison runs need no model
runs = run_cards(sweep.runs_stamp("lessons-cpu"))
all_choices = lesson.choices(maps, runs, model.card if model is not None else {})
comparison = [c for c in all_choices if not c.is_shipped]
shipped = next((c for c in all_choices if c.is_shipped), None)

if not comparison and shipped is None:
    st.error(words("no-known-runs"), icon=":material/error:")
    st.stop()

# ---- controls -----------------------------------------------------------------------------
sources = (["runs"] if comparison else []) + (["shipped"] if shipped else [])
source_names = {"runs": "Comparison runs: choose alpha, mining and step", "shipped": "The shipped model"}
source = st.segmented_control("Which model", sources, format_func=source_names.get, default=sources[0],
                              key="model", bind="query-params") or sources[0]

col_a, col_b, col_c = st.columns([1.2, 1.2, 1])
if source == "runs":
    mining_options = lesson.minings(comparison)
    with col_a:
        mining = st.selectbox("Mining", mining_options, format_func=lesson.MINING_NAMES.get, key="mining",
                              bind="query-params", help=words("help-mining"))
    margins = lesson.margins_for(comparison, mining)
    if "alpha" in st.session_state and st.session_state["alpha"] not in margins:
        del st.session_state["alpha"]  # a mining run at other margins: back to its default
    with col_b:
        # The default is FaceNet's 0.2; the address holds alpha only when it is another one.
        alpha = st.select_slider("Margin alpha", margins, value=0.2 if 0.2 in margins else margins[0], key="alpha",
                                 bind="query-params",
                                 disabled=len(margins) == 1,
                                 help=None if len(margins) > 1 else words("help-one-margin"))
    choice = lesson.pick(comparison, alpha, mining)
else:
    choice = shipped
run_map = maps.runs[choice.run]
card = (model.card if model is not None else {}) if choice.is_shipped else runs[choice.run].card
steps = list(choice.steps)

if "step" in st.session_state and st.session_state["step"] not in steps:
    del st.session_state["step"]  # a run with other steps: start again from its default, the last step

with col_c:
    if len(steps) > 1:
        # The default is the trained network; the address holds the step only when it is another one.
        step = st.select_slider("Training step", steps, value=steps[-1], key="step", bind="query-params",
                                help=words("help-step"))
    else:
        step = steps[0]
        st.markdown(words("shipped-step", step=step))

col_d, col_e, col_f = st.columns(3)
with col_d:
    dims = 3 if st.segmented_control("View", ["2-D", "3-D"], default="2-D", key="view",
                                     bind="query-params") == "3-D" else 2
with col_e:
    colour = st.segmented_control("Colour by", ["person", "cluster"], default="person", key="colour",
                                  bind="query-params") or "person"
with col_f:
    show_names = st.toggle("Names on the map", key="names", bind="query-params")

if not choice.is_shipped:
    st.caption(words("run-note", run=choice.run, margin=choice.margin, mining=lesson.MINING_NAMES[choice.mining]))

# ---- metrics beside the map ---------------------------------------------------------------
linkage = st.session_state.get("linkage", "average")
cut = float(st.session_state.get("cut", 0.9))
m = lesson.metrics_at(card, step)
c1, c2, c3, c4 = st.columns(4)
c1.metric("VAL at FAR = 1e-3", "n/a" if m.val_at_far is None else f"{m.val_at_far:.1%}",
          help=words("help-val", step=m.measured_at))
c2.metric("Ten-fold accuracy (pairsDevTest)", "n/a" if m.accuracy is None else f"{m.accuracy:.1%}",
          help=words("help-accuracy", step=m.measured_at))
c3.metric("Active triplets", "n/a" if m.active_fraction is None else f"{m.active_fraction:.0%}",
          help=words("help-active"))
threshold_slot = c4.empty()  # filled once the map is drawn: the map comes first

# ---- the map ------------------------------------------------------------------------------
# Computed before the map only when the map shows them; otherwise after it, so a new run or step
# draws the map before the cluster tree and the threshold of that step are built.
cluster_ids, scores = clusters(choice.run, step, linkage, cut, maps) if colour == "cluster" else (None, None)
points = run_map.points(step, dims)

# The chart's own selection state starts empty whenever the figure changes (a new step, a new
# run), so the last non-empty selection is kept here until the user clears it.
event_rows = lesson.selected_rows((st.session_state.get(MAP_KEY) or {}).get("selection"), MAX_SELECTED)
if event_rows:
    st.session_state["explorer_selected"] = event_rows
picked_names = st.session_state.get("pick_people") or []
name_rows = [int(np.flatnonzero(maps.labels == maps.names.index(n))[0]) for n in picked_names if n in maps.names]
selected = list(dict.fromkeys(st.session_state.get("explorer_selected", []) + name_rows))[:MAX_SELECTED]


def clear_selection() -> None:
    st.session_state["explorer_selected"] = []
    st.session_state["pick_people"] = []


traces = lesson.map_traces(maps, points, colour_by=cluster_ids, selected=selected, show_names=show_names)
title = (f"{'Shipped model' if choice.is_shipped else choice.run}, step {step:,}"
         + (f": {scores.clusters} clusters at {cut:.2f}" if colour == "cluster" else ""))
layout = lesson.map_layout(dims)
frames = []
if dims == 2 and len(steps) > 1:  # the map glides through training in the browser (SVG only)
    layout |= lesson.glide_controls(steps, step)
    frames = lesson.map_frames(maps, run_map, dims, selected=selected, show_names=show_names)
layout = chart(traces, title, height=680 if frames else 620, **layout).layout.to_plotly_json()
if frames:
    layout["margin"]["b"] = 90  # room for the play button and the map's slider
    # An animation does not rescale the axes by itself: each frame carries the ranges that make its
    # step's map fill the chart (a UMAP map's axes have no units), and the glide moves them too.
    def filling(points):
        low, high = points.min(axis=0), points.max(axis=0)
        pad = 0.04 * (high - low)
        return {"xaxis": {"range": [float(low[0] - pad[0]), float(high[0] + pad[0])]},
                "yaxis": {"range": [float(low[1] - pad[1]), float(high[1] + pad[1])]}}

    for frame in frames:
        frame["layout"] = filling(run_map.points(int(frame["name"]), 2))
    for name, ranges in filling(run_map.points(int(step), 2)).items():  # (x and y may share one dict: copies)
        layout[name] = {**layout[name], "range": ranges["range"]}
plot({"data": traces, "layout": layout, "frames": frames}, key=MAP_KEY, on_select="rerun",
     selection_mode=("points", "box", "lasso"))
st.caption(words("map-caption"))
threshold, explorer_val = explorer_threshold(choice.run, step, maps)
threshold_slot.metric("Threshold at FAR = 1e-3", f"{threshold:.3f}", help=words("help-threshold"))
if cluster_ids is None:
    cluster_ids, scores = clusters(choice.run, step, linkage, cut, maps)

# ---- selection: faces, neighbours, distance ------------------------------------------------
st.subheader("Who is next to whom")
p1, p2 = st.columns([4, 1], vertical_alignment="bottom")
p1.multiselect("Or pick people by name (their first photo)", maps.names, key="pick_people",
               max_selections=MAX_SELECTED, format_func=lambda n: n.replace("_", " "))
p2.button("Clear selection", icon=":material/deselect:", on_click=clear_selection, disabled=not selected,
          key="clear_selection")
photos = lfw_photos(words("photos-needed"))
rows_of = photo_index(photos) if photos is not None else {}
embeddings = embeddings_at(choice.run, step, maps)


def face(row: int):
    r = rows_of.get(maps.files[row])
    return None if r is None else photos.images[r]


def who(row: int) -> str:
    return maps.names[maps.labels[row]].replace("_", " ")


if not selected:
    st.info(words("nothing-selected"), icon=":material/touch_app:")
for row in selected:
    with st.container(border=True):
        neighbours = lesson.nearest_neighbours(embeddings, maps.labels, row, k=5)
        cols = st.columns(6)
        with cols[0]:
            image = face(row)
            if image is not None:
                st.image(thumbnail(image), width=96)
            st.markdown(f"**{who(row)}**  \n{'seen' if maps.seen[row] else 'never seen'} in training")
        for col, n in zip(cols[1:], neighbours):
            with col:
                image = face(n.row)
                if image is not None:
                    st.image(thumbnail(image), width=96)
                mark = "same person" if n.same_person else "someone else"
                st.markdown(f"{who(n.row)}  \nd² = {n.distance:.3f}  \n:{'green' if n.same_person else 'red'}[{mark}]")
if len(selected) >= 2:
    a, b = selected[:2]
    d = float(lesson.squared_distances_to(embeddings, a)[b])
    same_person = maps.labels[a] == maps.labels[b]
    verdict = words("verdict-same" if d <= threshold else "verdict-different")
    right = (d <= threshold) == same_person
    st.markdown(words("pair-verdict", a=who(a), b=who(b), d=d, threshold=threshold, verdict=verdict,
                      judgement=words("judgement-right" if right else "judgement-wrong")))
    relation = r"\le" if d <= threshold else ">"
    st.latex(rf"\lVert f(x_a) - f(x_b) \rVert_2^2 = {d:.3f} \;{relation}\; {threshold:.3f}")

# ---- how faithful the map is ----------------------------------------------------------------
st.subheader("How faithful is the map?")
st.markdown(words("faithful-intro"))
kept = faithfulness(choice.run, step, maps)
if predict_then_see(words.prediction("map-neighbours"), kept.mean(2), key="explorer-neighbours",
                    shown=lambda v: f"{float(v):.1f} of {kept.k}"):
    f1, f2, f3 = st.columns(3)
    f1.metric("Neighbours kept, 2-D map", f"{kept.mean(2):.1f} of {kept.k}", border=True)
    f2.metric("Neighbours kept, 3-D map", f"{kept.mean(3):.1f} of {kept.k}", border=True)
    f3.metric("A map at random", f"{kept.chance:.2f} of {kept.k}", border=True)
    st.markdown(words("faithful-result", mean_2d=kept.mean(2), k=kept.k, share_2d=kept.mean(2) / kept.k,
                      mean_3d=kept.mean(3), chance=kept.chance, none_2d=int(kept.histogram(2)[0]), photos=len(maps)))
    hist_col, steps_col = st.columns(2)
    with hist_col:
        plot(chart([{"type": "bar", "x": list(range(kept.k + 1)), "y": kept.histogram(dims).tolist(),
                     "name": f"{dims}-D map", "marker": {"color": colour}}
                    for dims, colour in ((2, BLUE), (3, ORANGE))],
                   f"Photos by neighbours kept, step {kept.step:,}", height=360, barmode="group",
                   xaxis={"title": f"of its {kept.k} nearest in 128-D, kept on the map", "dtick": 1},
                   yaxis={"title": "photos"}), key="faithful_histogram")
    with steps_col:
        if len(steps) > 1 and st.toggle("Every step of this run", key="faithful_steps"):
            every = [faithfulness(choice.run, int(s_), maps) for s_ in steps]
            plot(chart([{"type": "scatter", "x": steps, "y": [round(f.mean(dims), 3) for f in every],
                         "mode": "lines+markers", "name": f"{dims}-D map", "line": {"color": colour}}
                        for dims, colour in ((2, BLUE), (3, ORANGE))]
                       + [{"type": "scatter", "x": [steps[0], steps[-1]], "y": [kept.chance] * 2, "mode": "lines",
                           "name": "at random", "line": {"color": GREY, "dash": "dot"}}],
                       "Neighbours kept along training", height=360, xaxis={"title": "training step"},
                       yaxis={"title": f"of {kept.k} nearest, kept", "range": [0, kept.k]},
                       shapes=[{"type": "line", "x0": step, "x1": step, "y0": 0, "y1": 1, "yref": "paper",
                                "line": {"color": "black", "dash": "dash"}}]), key="faithful_steps_chart")
            st.caption(words("faithful-steps-caption"))

# ---- clustering ---------------------------------------------------------------------------
st.subheader("Clustering: the embedding's third use")
st.markdown(words("clustering-intro"))
k1, k2 = st.columns([1, 2])
with k1:
    st.radio("Linkage", list(lesson.LINKAGES), key="linkage", bind="query-params",
             captions=list(lesson.LINKAGES.values()))
with k2:
    st.slider("Merge threshold (squared distance)", 0.05, 3.0, 0.9, 0.05, key="cut", bind="query-params")
    st.caption(words("tip-colour-by-cluster"))
s1, s2, s3, s4 = st.columns(4)
s1.metric("Clusters", f"{scores.clusters:,}", f"{scores.clusters - scores.people:+,} vs {scores.people} people",
          delta_color="off")
s2.metric("Pairs in a cluster that are one person", f"{scores.pair_precision:.0%}")
s3.metric("One person's pairs kept together", f"{scores.pair_recall:.0%}")
s4.metric("Adjusted Rand index", f"{scores.adjusted_rand:.2f}", help=words("help-adjusted-rand"))
curve = cluster_curve(choice.run, step, linkage, maps)
left, right = st.columns(2)
with left:
    plot(chart([{"type": "scatter", "x": curve["threshold"].tolist(), "y": curve["clusters"].tolist(), "mode": "lines", "name": "clusters",
                 "line": {"color": BLUE}},
                {"type": "scatter", "x": [float(curve["threshold"][0]), float(curve["threshold"][-1])], "y": [scores.people] * 2,
                 "mode": "lines", "name": f"{scores.people} people", "line": {"color": GREY, "dash": "dot"}}],
               "Clusters against the threshold", height=330, xaxis={"title": "merge threshold (squared distance)"},
               yaxis={"title": "clusters", "type": "log"},
               shapes=[{"type": "line", "x0": cut, "x1": cut, "y0": 0, "y1": 1, "yref": "paper",
                        "line": {"color": "black", "dash": "dash"}}]), key="cluster_count")
with right:
    plot(chart([{"type": "scatter", "x": curve["threshold"].tolist(), "y": curve["adjusted_rand"].round(4).tolist(), "mode": "lines",
                 "name": "adjusted Rand index", "line": {"color": ORANGE}}],
               "How well clusters match people", height=330, xaxis={"title": "merge threshold (squared distance)"},
               yaxis={"title": "adjusted Rand index", "range": [0, 1]},
               shapes=[{"type": "line", "x0": cut, "x1": cut, "y0": 0, "y1": 1, "yref": "paper",
                        "line": {"color": "black", "dash": "dash"}}]), key="cluster_quality")
with st.expander("The largest clusters"):
    st.dataframe(lesson.cluster_table(cluster_ids, maps.labels, maps.names), hide_index=True,
                 column_config={"share of that person": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
                                "of their photos": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)})

# ---- a classifier must name someone; a threshold can say "unknown" ----------------------------
st.subheader("Why FaceNet learns an embedding, not a classifier")
st.markdown(words("classifier-intro"))
known = st.select_slider("People the classifier knows", [5, 10, 20, 40], value=20, key="clf_known",
                         help=words("help-known-people"))
compared = classifier_comparison(choice.run, step, known, threshold, maps)
if predict_then_see(words.prediction("classifier-strangers", known=known), compared.strangers_named("classifier"),
                    key="explorer-classifier", shown=lambda v: f"{float(v):.0%}"):
    g1, g2, g3, g4 = st.columns(4)
    g1.metric("Strangers named, classifier", f"{compared.strangers_named('classifier'):.0%}", border=True)
    g2.metric("Strangers named, threshold", f"{compared.strangers_named('threshold'):.0%}", border=True)
    g3.metric("Known named right, classifier", f"{compared.known('classifier', 'right'):.0%}", border=True)
    g4.metric("Known named right, threshold", f"{compared.known('threshold', 'right'):.0%}", border=True)
    answers = ["classifier", "embedding + threshold"]
    bars = []
    for label, what, colour in (("named right", "right", BLUE), ("named as someone else", "wrong", VERMILLION),
                                ("\"unknown\"", "unknown", GREY)):
        bars.append({"type": "bar", "x": answers, "y": [compared.known(by, what) for by in ("classifier", "threshold")],
                     "name": label, "marker": {"color": colour}, "legendgroup": label, "xaxis": "x", "yaxis": "y",
                     "hovertemplate": "%{y:.1%}<extra>" + label + "</extra>"})
    for label, what, colour in (("named as someone else", "named", VERMILLION), ("\"unknown\"", "unknown", GREY)):
        shares = [compared.strangers_named(by) for by in ("classifier", "threshold")]
        bars.append({"type": "bar", "x": answers, "y": shares if what == "named" else [1 - v for v in shares],
                     "name": label, "marker": {"color": colour}, "legendgroup": label, "showlegend": False,
                     "xaxis": "x2", "yaxis": "y2", "hovertemplate": "%{y:.1%}<extra>" + label + "</extra>"})
    known_probes = int(compared.is_known.sum())
    plot(chart(bars, "The same photos, two ways of answering", height=420, barmode="stack",
               xaxis={"domain": [0, 0.44]}, xaxis2={"domain": [0.56, 1], "anchor": "y2"},
               yaxis={"title": "share of the photos", "tickformat": ".0%", "range": [0, 1]},
               yaxis2={"anchor": "x2", "tickformat": ".0%", "range": [0, 1]},
               annotations=[{"text": text, "x": x, "y": 1.0, "xref": "paper", "yref": "paper", "xanchor": "center",
                             "yanchor": "bottom", "showarrow": False}
                            for text, x in ((f"Known people's other photos ({known_probes:,})", 0.22),
                                            (f"Strangers' photos ({compared.strangers:,})", 0.78))]),
         key="classifier_bars")
    st.markdown(words("classifier-result", clf_named=compared.strangers_named("classifier"),
                      strangers=compared.strangers, known=known, threshold=threshold,
                      thr_named=compared.strangers_named("threshold"), thr_right=compared.known("threshold", "right"),
                      turned_away=compared.known("threshold", "unknown"), clf_right=compared.known("classifier", "right")))

# ---- train it yourself ----------------------------------------------------------------------
st.subheader("Train it yourself, live")
run_margin = choice.margin if not choice.is_shipped else 0.2
run_mining = choice.mining if not choice.is_shipped else "semi-hard"
st.markdown(words("live-intro", margin=run_margin, mining=lesson.MINING_NAMES[run_mining],
                  steps=live_training.LIVE_STEPS))
live_sets = {"olivetti": "Olivetti (40 people x 10 photos)",
             "lfw": f"LFW ({live_training.LFW_PEOPLE} people with the most photos)"}
which = st.radio("Photos", list(live_sets), format_func=live_sets.get, horizontal=True, key="live_set")


def start_live() -> None:
    st.session_state["live_running"] = True
    st.session_state.pop("live_last", None)


def stop_live() -> None:
    st.session_state["live_running"] = False
    st.session_state["live_stopped"] = True


def draw_live(update: live_training.LiveUpdate, live_photos: live_training.LiveSet, slot) -> None:
    held = live_photos.held_out[live_photos.labels]
    colours = np.array(lesson.person_colours(len(live_photos.names)))[live_photos.labels]
    names = np.array([n.replace("_", " ") for n in live_photos.names])[live_photos.labels]
    traces = []
    for flag, label, symbol in ((False, "trained on", lesson.SEEN_SYMBOL), (True, "held out", lesson.UNSEEN_SYMBOL)):
        rows = np.flatnonzero(held == flag)
        traces.append({"type": "scatter", "mode": "markers", "name": label, "x": update.points[rows, 0].round(3).tolist(),
                       "y": update.points[rows, 1].round(3).tolist(), "text": names[rows].tolist(),
                       "hovertemplate": "%{text}<extra></extra>",
                       "marker": {"color": colours[rows].tolist(), "symbol": symbol, "size": 7,
                                  "line": {"width": 1.2, "color": colours[rows].tolist()}}})
    steps_done = [c["step"] for c in update.curve]
    acc_steps, acc = zip(*update.held_out_accuracy)
    with slot.container():
        left, right = st.columns([3, 2])
        with left:
            plot(chart(traces, f"Live map (PCA), step {update.step} of {update.steps}", height=420,
                       **lesson.map_layout(2)), key=f"live_map_{update.step}")
        with right:
            plot(chart([{"type": "scatter", "x": steps_done, "y": [c["loss"] for c in update.curve], "name": "loss",
                         "line": {"color": VERMILLION}},
                        {"type": "scatter", "x": steps_done, "y": [c["active_fraction"] for c in update.curve],
                         "name": "active triplets", "line": {"color": ORANGE}},
                        {"type": "scatter", "x": list(acc_steps), "y": list(acc), "name": "held-out accuracy",
                         "line": {"color": BLUE}}],
                       "Loss, active share, held-out accuracy", height=420, xaxis={"title": "step", "range": [0, update.steps]},
                       yaxis={"title": "loss, or a share from 0 to 1", "range": [0, 1]}), key=f"live_curves_{update.step}")


if which == "olivetti":
    try:
        live_photos = live_set("olivetti", data_path())
    except FileNotFoundError:
        live_photos = None
        st.info(words("no-olivetti"), icon=":material/photo_library:")
else:
    faces = lfw_photos(words("live-photos-needed"))
    live_photos = live_lfw_set(faces.source, len(faces), faces) if faces is not None else None

if live_photos is not None:
    st.caption(live_photos.description + ".")
    running = st.session_state.get("live_running", False)
    b1, b2, _ = st.columns([1, 1, 3])
    b1.button("Start a run", icon=":material/play_arrow:", on_click=start_live, disabled=running, key="live_start")
    b2.button("Stop", icon=":material/stop:", on_click=stop_live, disabled=not running, key="live_stop")
    progress = st.progress(0.0, text="Not started")
    slot = st.empty()
    if running:
        st.session_state.pop("live_stopped", None)
        for update in live_training.live_run(live_photos, run_margin, run_mining,
                                             steps=live_training.LIVE_STEPS):
            st.session_state["live_last"] = update
            progress.progress(update.step / update.steps,
                              text=f"Step {update.step} of {update.steps} ({update.elapsed_s:.1f} s)")
            draw_live(update, live_photos, slot)
        st.session_state["live_running"] = False
        st.rerun()  # redraw the buttons: the run is over
    elif (last := st.session_state.get("live_last")) is not None:
        stopped = st.session_state.get("live_stopped")
        progress.progress(last.step / last.steps, text=(f"Stopped at step {last.step}" if stopped and not last.done
                                                        else f"Finished: {last.steps} steps in {last.elapsed_s:.1f} s"))
        draw_live(last, live_photos, slot)

try_this(words("try"))
check_yourself(words.questions(), key="explorer")
