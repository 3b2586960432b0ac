"""Lesson 6, "Two CNN families": a Zeiler & Fergus-style network against Inception modules, by
parameters and multiply-adds. Layout only: the counts come from lessons/networks.py, which builds
the real networks of model/net.py and costs them layer by layer."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lessons import networks as lesson
from lessons.content import LessonText
from ui.colors import BLUE, GREEN, GREY, ORANGE, PURPLE, SKY_BLUE, VERMILLION
from ui.loaders import face_model
from ui.widgets import check_yourself, lesson_header, plot, predict_then_see, try_this

words = LessonText("networks")
ARCH_COLORS = {"zf": ORANGE, "inception": BLUE}


@st.cache_data(show_spinner="Costing the network, layer by layer...", max_entries=64)
def costs_of(arch: str, input_size: int, width: float):
    return lesson.net_costs(arch, input_size, width)


@st.cache_data(show_spinner=False, max_entries=256)
def module_comparison(shape: lesson.ModuleShape) -> lesson.ReductionComparison:
    return lesson.compare_reductions(shape)


@st.cache_data(show_spinner=False)
def our_modules() -> dict[str, lesson.ModuleShape]:
    return lesson.module_inputs(64, 1.0)


def n(x) -> str:
    return f"{x:,}"


lesson_header("pages/networks.py")

st.markdown(words("intro"))
with st.expander("Zeiler & Fergus: a visualisation, or an architecture?"):
    st.markdown(words("zeiler-fergus"))

# --------------------------------------------------------------------------------------------
# The paper's networks and ours
# --------------------------------------------------------------------------------------------

st.header("The paper's networks, and ours")
left, right = st.columns(2)
st.session_state.setdefault("nets-input-size", 64)
WIDTH_LABELS = {f"x{w:g}": w for w in lesson.WIDTHS}
st.session_state.setdefault("nets-width", "x1")
input_size = left.select_slider(
    "Input image size (pixels per side)", lesson.INPUT_SIZES, key="nets-input-size", bind="query-params",
    help=words("help-input-size"))
width = WIDTH_LABELS[right.select_slider(
    "Width multiplier (channels per layer)", list(WIDTH_LABELS), key="nets-width", bind="query-params",
    help=words("help-width"))]

zf_costs = costs_of("zf", input_size, width)
inc_costs = costs_of("inception", input_size, width)
zf_params, zf_macs = lesson.totals(zf_costs)
inc_params, inc_macs = lesson.totals(inc_costs)

cols = st.columns(4)
cols[0].metric("Zeiler & Fergus: parameters", lesson.compact(zf_params), help=n(zf_params), border=True)
cols[1].metric("Zeiler & Fergus: multiply-adds", lesson.compact(zf_macs), help=n(zf_macs), border=True)
cols[2].metric("Inception: parameters", lesson.compact(inc_params), help=n(inc_params), border=True)
cols[3].metric("Inception: multiply-adds", lesson.compact(inc_macs), help=n(inc_macs), border=True)
if predict_then_see(words.prediction("fc-share", size=input_size), 100 * lesson.fc_share(zf_costs),
                    key="nets-fc-share", shown=lambda v: f"{float(v):.0f}%"):
    st.markdown(words("ours-against-paper", size=input_size, width=width, params_ratio=zf_params / inc_params,
                      fc_share=lesson.fc_share(zf_costs), macs_ratio=zf_macs / inc_macs,
                      paper_ratio=lesson.NN1_TO_NN2_PARAMS))

rows = [{"network": f"{p.name} (paper)", "family": p.family,
         "input": f"{p.input_size} x {p.input_size}" if p.input_size else "-",
         "parameters": lesson.compact(p.params) if p.params else "6.6M-7.5M (family)",
         "FLOPS / multiply-adds": lesson.compact(p.flops) if p.flops else "-", "note": p.note}
        for p in lesson.PAPER_NETWORKS]
for arch, (params, macs), costs in (("zf", (zf_params, zf_macs), zf_costs), ("inception", (inc_params, inc_macs), inc_costs)):
    rows.append({"network": f"ours, {lesson.ARCH_NAMES[arch]}", "family": "Zeiler & Fergus" if arch == "zf" else "Inception",
                 "input": f"{input_size} x {input_size}", "parameters": f"{params:,}", "FLOPS / multiply-adds": f"{macs:,}",
                 "note": f"{sum(c.kind != 'BatchNorm' for c in costs)} convolution and linear layers, width x{width:g}"})
st.table(rows, hide_index=True)  # a table that wraps its notes: nothing cut off on a projector
st.caption(words("table-caption"))

# The cost map: every network as a point, parameters against compute.
card = None
model = face_model()
if model is not None:
    card = lesson.shipped_model(model.card)

paper_points = [p for p in lesson.PAPER_NETWORKS if p.params and p.flops]
map_traces = [
    go.Scatter(x=[p.flops for p in paper_points], y=[p.params for p in paper_points], mode="markers+text",
               name="the paper's networks", text=[p.name for p in paper_points], textposition="top center",
               marker=dict(size=13, symbol="diamond", line=dict(color="black", width=1),
                           color=[ARCH_COLORS["zf" if p.family.startswith("Zeiler") else "inception"] for p in paper_points]),
               hovertemplate="%{text} (paper): %{y:.3s} parameters, %{x:.3s} FLOPS<extra></extra>"),
    go.Scatter(x=[zf_macs, inc_macs], y=[zf_params, inc_params], mode="markers+text",
               name=f"ours at {input_size}px, x{width:g}", text=["our ZF", "our Inception"], textposition="bottom center",
               marker=dict(size=13, color=[ARCH_COLORS["zf"], ARCH_COLORS["inception"]]),
               hovertemplate="%{text}: %{y:,} parameters, %{x:,} multiply-adds<extra></extra>")]
if card is not None and card.params and card.macs:
    map_traces.append(go.Scatter(
        x=[card.macs], y=[card.params], mode="markers", name="our shipped model (card)",
        marker=dict(size=20, symbol="circle-open", color=GREEN, line=dict(width=3)),
        hovertemplate="shipped model: %{y:,} parameters, %{x:,} multiply-adds<extra></extra>"))
cost_map = go.Figure(data=map_traces, layout=dict(
    height=420, margin=dict(t=40, b=10), title=dict(text="Parameters against compute (both axes logarithmic)"),
    legend=dict(orientation="h", y=-0.2),
    xaxis=dict(type="log", title=dict(text="multiply-adds (paper: FLOPS) per image")),
    yaxis=dict(type="log", title=dict(text="parameters"))))
plot(cost_map, key="nets-cost-map")

# --------------------------------------------------------------------------------------------
# Layer by layer
# --------------------------------------------------------------------------------------------

st.header("Layer by layer")
st.markdown(words("layers-intro"))
c1, c2, c3 = st.columns([2, 1, 1])
measure = c1.segmented_control("Show", ["parameters", "multiply-adds"], default="parameters", key="nets-measure",
                                bind="query-params")
measure = measure or "parameters"
grouped = c2.toggle("Group into blocks", value=True, key="nets-by-block", bind="query-params",
                    help=words("help-by-block"))
log_y = c3.toggle("Logarithmic axis", value=False, key="nets-log-y", bind="query-params",
                  help=words("help-log-y"))

bar_traces = []
for axis, arch, costs in (("", "zf", zf_costs), ("2", "inception", inc_costs)):
    if grouped:
        items = lesson.by_block(costs)
        names = [b.name for b in items]
        values = [b.params if measure == "parameters" else b.macs for b in items]
        shapes = [" x ".join(map(str, b.output_shape)) for b in items]
    else:
        names = [c.name.removeprefix("features.") for c in costs]
        values = [c.params if measure == "parameters" else c.macs for c in costs]
        shapes = [" x ".join(map(str, c.output_shape)) for c in costs]
    bar_traces.append(go.Bar(x=names, y=values, name=lesson.ARCH_NAMES[arch], marker_color=ARCH_COLORS[arch],
                             customdata=shapes, xaxis="x" + axis, yaxis="y" + axis,
                             hovertemplate="%{x}<br>%{y:,} " + measure + "<br>output %{customdata}<extra></extra>"))
y_type = "log" if log_y else "linear"
tick = dict(tickangle=-60, tickfont=dict(size=10))
bars = go.Figure(data=bar_traces, layout=dict(
    height=460, margin=dict(t=40, b=10), showlegend=False, bargap=0.15,
    xaxis=dict(domain=[0, 0.485], title=dict(text="layer, input to output"), **tick),
    xaxis2=dict(domain=[0.515, 1], anchor="y2", title=dict(text="layer, input to output"), **tick),
    yaxis=dict(type=y_type, title=dict(text=f"{measure} per image" if measure == "multiply-adds" else "parameters")),
    yaxis2=dict(type=y_type, anchor="x2", matches="y", showticklabels=False),
    annotations=[dict(text=t, x=x, y=1.0, xref="paper", yref="paper", xanchor="center", yanchor="bottom",
                      showarrow=False, font=dict(size=14))
                 for t, x in (("Zeiler & Fergus-style", 0.24), ("Inception-style", 0.76))]))
plot(bars, key="nets-layer-bars")

with st.expander("Every layer, as a table"):
    t1, t2 = st.tabs(["Zeiler & Fergus-style", "Inception-style"])
    for tab, costs in ((t1, zf_costs), (t2, inc_costs)):
        tab.dataframe(lesson.layer_rows(costs), hide_index=True, width="stretch",
                      column_config={"share of multiply-adds": st.column_config.NumberColumn(format="percent")})

biggest = lesson.largest_conv(inc_costs)
k = int(biggest.kind.split()[1].split("x")[0])
c_out, h, w = biggest.output_shape
c_in = biggest.params // (k * k * c_out)
st.markdown(words("counting-a-convolution", layer=biggest.name.removeprefix("features.")))
st.latex(
    rf"\underbrace{{{k}\cdot{k}}}_{{k\cdot k}}\cdot\underbrace{{{c_in}}}_{{c_{{in}}}}\cdot"
    rf"\underbrace{{{c_out}}}_{{c_{{out}}}}\cdot\underbrace{{{h}\cdot{w}}}_{{H\cdot W}}"
    rf"= {biggest.macs:,}".replace(",", "{,}") + r"\ \text{multiply-adds}")
st.markdown(words("kernel-reused", k=k, c_in=c_in, c_out=c_out, params=biggest.params, positions=h * w))
st.info(words("flops-or-multiply-adds"), icon=":material/calculate:")

# --------------------------------------------------------------------------------------------
# Build an Inception module
# --------------------------------------------------------------------------------------------

st.header("Build an Inception module")
st.markdown(words("module-intro"))

presets = {"GoogLeNet inception (3a), 28 x 28": lesson.GOOGLENET_3A}
presets.update({f"our {name} (64 x 64 faces)": shape for name, shape in our_modules().items()})
SLIDERS = [("module-c-in", "c_in", "Input channels", 4, 512), ("module-c1", "c1", "1x1 branch width", 4, 384),
           ("module-r3", "r3", "3x3 reduce (1x1) width", 4, 384), ("module-c3", "c3", "3x3 width", 4, 384),
           ("module-r5", "r5", "5x5 reduce (1x1) width", 4, 384), ("module-c5", "c5", "5x5 width", 4, 384),
           ("module-pool", "pool_proj", "pool projection width", 4, 384)]


def apply_preset():
    shape = presets[st.session_state["module-preset"]]
    for key, attr, *_ in SLIDERS:
        st.session_state[key] = getattr(shape, attr)
    st.session_state["module-size"] = shape.size


for key, attr, *_ in SLIDERS:
    st.session_state.setdefault(key, getattr(lesson.GOOGLENET_3A, attr))
st.session_state.setdefault("module-size", lesson.GOOGLENET_3A.size)

st.selectbox("Start from", list(presets), key="module-preset", on_change=apply_preset,
             help=words("help-preset"))
slider_cols = st.columns(4)
values = {}
for i, (key, attr, label, lo, hi) in enumerate(SLIDERS):
    values[attr] = slider_cols[i % 4].slider(label, lo, hi, step=4, key=key)
size = slider_cols[3].slider("Feature map size (pixels per side)", 2, 56, key="module-size")
reductions = st.toggle("Use the 1x1 reductions", value=True, key="module-reductions", bind="query-params",
                       help=words("help-reductions"))

shape = lesson.ModuleShape(**values, size=size, reductions=True)
comparison = module_comparison(shape)
chosen = comparison.with_reductions if reductions else comparison.without
other = comparison.without if reductions else comparison.with_reductions

reduction_guess = predict_then_see(words.prediction("reduction-ratio"), comparison.macs_ratio,
                                   key="nets-reduction-ratio", shown=lambda v: f"{float(v):.1f} times")
m = st.columns(4)
m[0].metric("Parameters", f"{chosen.params:,}", border=True,
            help=words("help-params-without-reductions" if reductions else "help-params-with-reductions",
                       params=other.params))
m[1].metric("Multiply-adds", lesson.compact(chosen.macs), border=True,
            help=words("help-macs-without-reductions" if reductions else "help-macs-with-reductions",
                       macs=chosen.macs, other=other.macs))
m[2].metric("Output channels", f"{chosen.out_channels:,}", border=True)
if reduction_guess:
    m[3].metric("Saved by reductions", f"{comparison.macs_saved / comparison.without.macs:.0%}"
                if comparison.without.macs else "-", border=True,
                help=words("help-saved"))
else:
    m[3].caption(words("saved-held-back"))

if reduction_guess and comparison.macs_saved > 0:
    st.markdown(words("reductions-save", macs_without=comparison.without.macs,
                      macs_with=comparison.with_reductions.macs, macs_ratio=comparison.macs_ratio,
                      params_without=comparison.without.params, params_with=comparison.with_reductions.params,
                      params_ratio=comparison.params_ratio))
elif reduction_guess:
    st.warning(words("reductions-do-not-save", macs_with=comparison.with_reductions.macs,
                     macs_without=comparison.without.macs, c_in=shape.c_in, r3=shape.r3, r5=shape.r5),
               icon=":material/warning:")

s = shape
st.markdown(words("five-by-five-by-hand"))
st.latex(rf"\text{{without: }} 5\cdot5\cdot{s.c_in}\cdot{s.c5}\cdot{size}^2 = {25 * s.c_in * s.c5 * size * size:,}"
         .replace(",", "{,}"))
st.latex(rf"\text{{with: }} 1\cdot1\cdot{s.c_in}\cdot{s.r5}\cdot{size}^2 + 5\cdot5\cdot{s.r5}\cdot{s.c5}\cdot{size}^2"
         rf" = {(s.c_in * s.r5 + 25 * s.r5 * s.c5) * size * size:,}".replace(",", "{,}"))
st.caption(words("measured-caption", without=comparison.without.branch_macs["branch5"],
                 with_reduction=comparison.with_reductions.branch_macs["branch5"]))

diagram_col, branch_col = st.columns([3, 2])
diagram = lesson.module_diagram(chosen)
edge_x, edge_y = [], []
for a, b in diagram.edges:
    na, nb = diagram.node(a), diagram.node(b)
    edge_x += [na.x, nb.x, None]
    edge_y += [na.y - 0.3, nb.y + 0.3, None]  # from the bottom of one box to the top of the next
kind_colors = {"input": GREY, "reduce": SKY_BLUE, "conv": BLUE, "pool": PURPLE, "concat": GREEN}
text_colors = {"input": "black", "reduce": "black", "conv": "white", "pool": "black", "concat": "white"}
boxes = [dict(type="rect", x0=nd.x - 0.45, x1=nd.x + 0.45, y0=nd.y - 0.3, y1=nd.y + 0.3, layer="below",
              fillcolor=kind_colors[nd.kind], line=dict(width=0)) for nd in diagram.nodes]
fig = go.Figure(
    data=[go.Scatter(x=edge_x, y=edge_y, mode="lines", line=dict(color=GREY, width=2), hoverinfo="skip",
                     showlegend=False, name="connections"),
          go.Scatter(x=[nd.x for nd in diagram.nodes], y=[nd.y for nd in diagram.nodes], mode="markers+text",
                     name="layers", text=[nd.label for nd in diagram.nodes],
                     textfont=dict(color=[text_colors[nd.kind] for nd in diagram.nodes], size=12),
                     marker=dict(symbol="square", size=40, opacity=0),  # invisible: only there for the hover
                     customdata=[[nd.params, nd.macs] for nd in diagram.nodes], showlegend=False,
                     hovertemplate="%{text}<br>%{customdata[0]:,} parameters<br>%{customdata[1]:,} multiply-adds"
                                   "<extra></extra>")],
    layout=dict(height=440, margin=dict(t=40, b=10, l=10, r=10), shapes=boxes,
                title=dict(text="The module " + ("with" if reductions else "without") + " its 1x1 reductions"),
                xaxis=dict(visible=False, range=[-0.55, 3.55], fixedrange=True),
                yaxis=dict(visible=False, range=[-0.45, 3.45], fixedrange=True)))
with diagram_col:
    plot(fig, key="module-diagram")

branch_fig = go.Figure(
    data=[go.Bar(x=[lesson.BRANCH_NAMES[b] for b in lesson.BRANCHES], y=[cost.branch_macs[b] for b in lesson.BRANCHES],
                 name=label, marker_color=color,
                 hovertemplate="%{x} branch: %{y:,} multiply-adds<extra>" + label + "</extra>")
          for label, cost, color in (("with reductions", comparison.with_reductions, BLUE),
                                     ("without reductions", comparison.without, VERMILLION))],
    layout=dict(height=440, barmode="group", margin=dict(t=40, b=10), title=dict(text="Multiply-adds per branch"),
                legend=dict(orientation="h", y=-0.15), xaxis=dict(title=dict(text="branch")),
                yaxis=dict(title=dict(text="multiply-adds per image"))))
with branch_col:
    plot(branch_fig, key="module-branches")

# --------------------------------------------------------------------------------------------
# Accuracy against cost
# --------------------------------------------------------------------------------------------

st.header("What the cost buys")
st.markdown(words("cost-buys"))
if card is None:
    st.info(words("no-card"))
else:
    acc = f"{card.accuracy:.1%}" if card.accuracy else "-"
    fixed = f"{card.accuracy_fixed_threshold:.1%}" if card.accuracy_fixed_threshold else "-"
    cols = st.columns(2)
    cols[0].metric("Shipped model: parameters", f"{card.params:,}" if card.params else "-", border=True)
    cols[1].metric("Shipped model: multiply-adds", lesson.compact(card.macs) if card.macs else "-", border=True,
                   help=words("help-card-macs", macs=card.macs, size=card.input_size) if card.macs else None)
    if card.accuracy_se:
        acc += f" ± {card.accuracy_se:.1%}"
    revealed = card.threshold_cost is None or predict_then_see(
        words.prediction("fixed-threshold", tuned=f"{card.accuracy:.1%}"), lesson.threshold_verdict(card),
        key="nets-fixed-threshold")
    if revealed:
        cols = st.columns(2)
        cols[0].metric("Accuracy, threshold fixed on pairsDevTrain", fixed, border=True,
                       help=words("help-card-fixed-threshold", threshold=card.fixed_threshold or 0.0))
        cols[1].metric("Accuracy, threshold tuned inside pairsDevTest", f"{card.accuracy:.1%}" if card.accuracy
                       else "-", border=True,
                       help=words("help-card-accuracy-se" if card.accuracy_se else "help-card-accuracy",
                                  se=card.accuracy_se))
    same_as_above = width == 1.0 and (card.arch, card.input_size, card.params, card.macs) == (
        "inception", input_size, inc_params, inc_macs)
    nn2 = next(p for p in lesson.PAPER_NETWORKS if p.name == "NN2")
    counted_above = " " + words("counted-above") if same_as_above else ""
    against_nn2 = (", " + words("against-nn2", params_ratio=nn2.params / card.params,
                                compute_ratio=nn2.flops / card.macs) if card.params and card.macs else "")
    if revealed:
        st.markdown(words("shipped-model", arch=lesson.ARCH_NAMES.get(card.arch, str(card.arch)),
                          size=card.input_size, params=card.params, macs=lesson.compact(card.macs),
                          counted_above=counted_above, against_nn2=against_nn2, fixed=fixed, tuned=acc))
        if card.threshold_cost is not None:
            st.markdown(words("lfw-protocols", fixed=f"{fixed} (threshold fixed on pairsDevTrain)",
                              tuned=f"{acc} (threshold tuned inside pairsDevTest)", cost=card.threshold_cost))
    if card.provisional:
        st.caption(words("provisional"))
    st.caption(words("no-zf-accuracy"))

try_this(words("try"))
check_yourself(words.questions(), key="networks")
