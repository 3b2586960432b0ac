"""Lesson 6, "Two CNN families": a plain Zeiler & Fergus stack against Inception modules, by
parameters and multiply-adds. Layout only: the counts come from lessons/networks.py, which builds
the real networks of model/net.py and costs them layer by layer."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lessons import networks as nets
from lessons.quiz import Question
from ui.colors import BLUE, GREEN, GREY, ORANGE, PURPLE, SKY_BLUE, VERMILLION
from ui.loaders import face_model
from ui.widgets import check_yourself, lesson_header, plot, try_this

ARCH_COLORS = {"zf": ORANGE, "inception": BLUE}
PAPER = "Schroff, Kalenichenko & Philbin, *FaceNet*, CVPR 2015"


@st.cache_data(show_spinner="Costing the network, layer by layer...", max_entries=64)
def costs_of(arch: str, input_size: int, width: float):
    return nets.net_costs(arch, input_size, width)


@st.cache_data(show_spinner=False, max_entries=256)
def module_comparison(shape: nets.ModuleShape) -> nets.ReductionComparison:
    return nets.compare_reductions(shape)


@st.cache_data(show_spinner=False)
def our_modules() -> dict[str, nets.ModuleShape]:
    return nets.module_inputs(64, 1.0)


def n(x) -> str:
    return f"{x:,}"


lesson_header("pages/networks.py")

st.markdown(
    f"""
FaceNet's training recipe works with any network that turns a face into 128 numbers. The paper
tries two very different families of convolutional networks (CNNs) and compares what they cost
({PAPER}, Sec. 3.3, Tables 1 and 2):

- **NN1**, built like the network of Zeiler & Fergus (ECCV 2014): a plain stack of convolutions
  followed by big *fully connected* layers, where every input number is wired to every output.
- **NN2** and its relatives, built from the **Inception modules** of GoogLeNet (Szegedy et al.,
  CVPR 2015): several small convolutions side by side, with cheap 1x1 convolutions squeezing the
  channels first.

Two numbers describe the cost of a network. **Parameters** are the numbers it learns (they take
memory and need training data). **Multiply-adds** are the sums of products it computes for one
image (they take time, which matters on a phone).
"""
)

# --------------------------------------------------------------------------------------------
# The paper's networks and ours
# --------------------------------------------------------------------------------------------

st.header("The paper's networks, and ours")
left, right = st.columns(2)
st.session_state.setdefault("nets-input-size", 64)
WIDTH_LABELS = {f"x{w:g}": w for w in nets.WIDTHS}
st.session_state.setdefault("nets-width", "x1")
input_size = left.select_slider(
    "Input image size (pixels per side)", nets.INPUT_SIZES, key="nets-input-size", bind="query-params",
    help="Our shipped model reads 64 x 64 faces. The paper's NN2 reads 224 x 224, NN3 160 x 160, NN4 96 x 96.")
width = WIDTH_LABELS[right.select_slider(
    "Width multiplier (channels per layer)", list(WIDTH_LABELS), key="nets-width", bind="query-params",
    help="Multiplies the number of channels of every layer of both networks.")]

zf_costs = costs_of("zf", input_size, width)
inc_costs = costs_of("inception", input_size, width)
zf_params, zf_macs = nets.totals(zf_costs)
inc_params, inc_macs = nets.totals(inc_costs)

cols = st.columns(4)
cols[0].metric("Zeiler & Fergus: parameters", nets.compact(zf_params), help=n(zf_params), border=True)
cols[1].metric("Zeiler & Fergus: multiply-adds", nets.compact(zf_macs), help=n(zf_macs), border=True)
cols[2].metric("Inception: parameters", nets.compact(inc_params), help=n(inc_params), border=True)
cols[3].metric("Inception: multiply-adds", nets.compact(inc_macs), help=n(inc_macs), border=True)
st.markdown(
    f"At {input_size} x {input_size} pixels and width x{width:g}, our Zeiler & Fergus-style network has "
    f"**{zf_params / inc_params:.1f} times** the parameters of our Inception-style one "
    f"({nets.fc_share(zf_costs):.0%} of them in its fully connected layers), and needs "
    f"**{zf_macs / inc_macs:.2f} times** its multiply-adds. In the paper, NN1 has "
    f"**{nets.NN1_TO_NN2_PARAMS:.0f} times** the parameters of NN2 (140M against 7.5M) for the same 1.6B FLOPS."
)

rows = [{"network": f"{p.name} (paper)", "family": p.family,
         "input": f"{p.input_size} x {p.input_size}" if p.input_size else "-",
         "parameters": nets.compact(p.params) if p.params else "6.6M-7.5M (family)",
         "FLOPS / multiply-adds": nets.compact(p.flops) if p.flops else "-", "note": p.note}
        for p in nets.PAPER_NETWORKS]
for arch, (params, macs), costs in (("zf", (zf_params, zf_macs), zf_costs), ("inception", (inc_params, inc_macs), inc_costs)):
    rows.append({"network": f"ours, {nets.ARCH_NAMES[arch]}", "family": "Zeiler & Fergus" if arch == "zf" else "Inception",
                 "input": f"{input_size} x {input_size}", "parameters": f"{params:,}", "FLOPS / multiply-adds": f"{macs:,}",
                 "note": f"{sum(c.kind != 'BatchNorm' for c in costs)} convolution and linear layers, width x{width:g}"})
st.dataframe(rows, hide_index=True, width="stretch")
st.caption(
    "The paper's rows as published (Sec. 3.3, Tables 1-2; NN3 and NN4 are NN2 with smaller inputs, and the "
    "paper gives its Inception models 6.6M-7.5M parameters and 500M-1.6B FLOPS). Our rows are counted from "
    "the code in model/net.py for the size and width chosen above.")

# The cost map: every network as a point, parameters against compute.
card = None
model = face_model()
if model is not None:
    card = nets.shipped_model(model.card)

paper_points = [p for p in nets.PAPER_NETWORKS if p.params and p.flops]
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
st.markdown(
    "Where does the cost sit? Each bar is one layer (or one block: a convolution with its batch norm, a "
    "whole Inception module, a fully connected layer) of our two networks, at the size and width chosen above."
)
c1, c2, c3 = st.columns([2, 1, 1])
measure = c1.segmented_control("Show", ["parameters", "multiply-adds"], default="parameters", key="nets-measure",
                                bind="query-params")
measure = measure or "parameters"
grouped = c2.toggle("Group into blocks", value=True, key="nets-by-block", bind="query-params",
                    help="Off: every convolution, batch norm and linear layer on its own.")
log_y = c3.toggle("Logarithmic axis", value=False, key="nets-log-y", bind="query-params",
                  help="Makes the small layers visible next to the big ones.")

bar_traces = []
for axis, arch, costs in (("", "zf", zf_costs), ("2", "inception", inc_costs)):
    if grouped:
        items = nets.by_block(costs)
        names = [b.name for b in items]
        values = [b.params if measure == "parameters" else b.macs for b in items]
        shapes = [" x ".join(map(str, b.output_shape)) for b in items]
    else:
        names = [c.name.removeprefix("features.") for c in costs]
        values = [c.params if measure == "parameters" else c.macs for c in costs]
        shapes = [" x ".join(map(str, c.output_shape)) for c in costs]
    bar_traces.append(go.Bar(x=names, y=values, name=nets.ARCH_NAMES[arch], marker_color=ARCH_COLORS[arch],
                             customdata=shapes, xaxis="x" + axis, yaxis="y" + axis,
                             hovertemplate="%{x}<br>%{y:,} " + measure + "<br>output %{customdata}<extra></extra>"))
y_type = "log" if log_y else "linear"
tick = dict(tickangle=-60, tickfont=dict(size=10))
bars = go.Figure(data=bar_traces, layout=dict(
    height=460, margin=dict(t=40, b=10), showlegend=False, bargap=0.15,
    xaxis=dict(domain=[0, 0.485], **tick), xaxis2=dict(domain=[0.515, 1], anchor="y2", **tick),
    yaxis=dict(type=y_type, title=dict(text=f"{measure} per image" if measure == "multiply-adds" else "parameters")),
    yaxis2=dict(type=y_type, anchor="x2", matches="y", showticklabels=False),
    annotations=[dict(text=t, x=x, y=1.0, xref="paper", yref="paper", xanchor="center", yanchor="bottom",
                      showarrow=False, font=dict(size=14))
                 for t, x in (("Zeiler & Fergus-style", 0.24), ("Inception-style", 0.76))]))
plot(bars, key="nets-layer-bars")

with st.expander("Every layer, as a table"):
    t1, t2 = st.tabs(["Zeiler & Fergus-style", "Inception-style"])
    for tab, costs in ((t1, zf_costs), (t2, inc_costs)):
        tab.dataframe(nets.layer_rows(costs), hide_index=True, width="stretch",
                      column_config={"share of multiply-adds": st.column_config.NumberColumn(format="percent")})

biggest = nets.largest_conv(inc_costs)
k = int(biggest.kind.split()[1].split("x")[0])
c_out, h, w = biggest.output_shape
c_in = biggest.params // (k * k * c_out)
st.markdown(
    "**How a convolution is counted.** A convolution with a k x k kernel looks at k x k x c_in input numbers "
    "for each of its c_out outputs at each of the H x W positions of its output map, one multiply-add each. "
    f"The most expensive one in our Inception-style network is `{biggest.name.removeprefix('features.')}`:"
)
st.latex(
    rf"\underbrace{{{k}\cdot{k}}}_{{k\cdot k}}\cdot\underbrace{{{c_in}}}_{{c_{{in}}}}\cdot"
    rf"\underbrace{{{c_out}}}_{{c_{{out}}}}\cdot\underbrace{{{h}\cdot{w}}}_{{H\cdot W}}"
    rf"= {biggest.macs:,}".replace(",", "{,}") + r"\ \text{multiply-adds}")
st.markdown(
    f"Its kernel holds {k}·{k}·{c_in}·{c_out} = {biggest.params:,} parameters, used again at every one of the "
    f"{h * w:,} positions. A fully connected layer uses each of its parameters only once per image, so "
    "its multiply-adds equal its parameters: that is why the Zeiler & Fergus-style network has many parameters "
    "but not much more compute."
)
st.info(
    "**FLOPS or multiply-adds?** We count **multiply-adds** of the convolutions and fully connected layers. "
    "Batch norm can be folded into the convolution before it, and ReLU and pooling need no multiplications, so "
    "they are left out. The paper's \"FLOPS\" are best read as the same thing: a Zeiler & Fergus network at "
    "220 x 220 needs about 1.6 billion multiply-adds. Strictly, one multiply-add is two floating-point "
    "operations, so a count of FLOPs in the strict sense would be twice as large.",
    icon=":material/calculate:")

# --------------------------------------------------------------------------------------------
# Build an Inception module
# --------------------------------------------------------------------------------------------

st.header("Build an Inception module")
st.markdown(
    """
An Inception module runs four branches side by side on the same input and stacks their outputs:
a 1x1 convolution, a 3x3 convolution, a 5x5 convolution and a 3x3 max-pool. The 3x3 and 5x5
convolutions are expensive when the input has many channels, so GoogLeNet first squeezes the
channels with a **1x1 "reduction" convolution** (an idea from Lin, Chen & Yan's *Network in
network*, 2013), and projects the pooled branch the same way. Set the widths and see the cost.
"""
)

presets = {"GoogLeNet inception (3a), 28 x 28": nets.GOOGLENET_3A}
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
    st.session_state.setdefault(key, getattr(nets.GOOGLENET_3A, attr))
st.session_state.setdefault("module-size", nets.GOOGLENET_3A.size)

st.selectbox("Start from", list(presets), key="module-preset", on_change=apply_preset,
             help="Loads a module's widths into the sliders below; then change any of them.")
slider_cols = st.columns(4)
values = {}
for i, (key, attr, label, lo, hi) in enumerate(SLIDERS):
    values[attr] = slider_cols[i % 4].slider(label, lo, hi, step=4, key=key)
size = slider_cols[3].slider("Feature map size (pixels per side)", 2, 56, key="module-size")
reductions = st.toggle("Use the 1x1 reductions", value=True, key="module-reductions", bind="query-params",
                       help="Off: the 3x3 and 5x5 convolutions see every input channel, and the pooled "
                            "input passes through unprojected (the \"naive\" module).")

shape = nets.ModuleShape(**values, size=size, reductions=True)
comparison = module_comparison(shape)
chosen = comparison.with_reductions if reductions else comparison.without
other = comparison.without if reductions else comparison.with_reductions

m = st.columns(4)
m[0].metric("Parameters", f"{chosen.params:,}", border=True,
            help=f"{other.params:,} {'without' if reductions else 'with'} the reductions.")
m[1].metric("Multiply-adds", nets.compact(chosen.macs), border=True,
            help=f"{chosen.macs:,} per image; {other.macs:,} {'without' if reductions else 'with'} the reductions.")
m[2].metric("Output channels", f"{chosen.out_channels:,}", border=True)
m[3].metric("Saved by reductions", f"{comparison.macs_saved / comparison.without.macs:.0%}"
            if comparison.without.macs else "-", border=True,
            help="Share of the multiply-adds the same module needs without its 1x1 reductions.")

if comparison.macs_saved > 0:
    st.markdown(
        f"With these widths the reductions cut the module from **{comparison.without.macs:,}** to "
        f"**{comparison.with_reductions.macs:,}** multiply-adds ({comparison.macs_ratio:.1f} times fewer) and from "
        f"{comparison.without.params:,} to {comparison.with_reductions.params:,} parameters "
        f"({comparison.params_ratio:.1f} times fewer).")
else:
    st.warning(
        f"With these widths the reductions do **not** save anything: the module needs {comparison.with_reductions.macs:,} "
        f"multiply-adds with them and {comparison.without.macs:,} without. A 1x1 reduction only pays off when it "
        f"makes fewer channels than come in (here {shape.c_in} come in; the reductions make {shape.r3} and {shape.r5}).",
        icon=":material/warning:")

s = shape
st.markdown("The 5x5 branch by hand (batch norm has no multiply-adds), without and with its 1x1 reduction:")
st.latex(rf"\text{{without: }} 5\cdot5\cdot{s.c_in}\cdot{s.c5}\cdot{size}^2 = {25 * s.c_in * s.c5 * size * size:,}"
         .replace(",", "{,}"))
st.latex(rf"\text{{with: }} 1\cdot1\cdot{s.c_in}\cdot{s.r5}\cdot{size}^2 + 5\cdot5\cdot{s.r5}\cdot{s.c5}\cdot{size}^2"
         rf" = {(s.c_in * s.r5 + 25 * s.r5 * s.c5) * size * size:,}".replace(",", "{,}"))
st.caption(
    f"The real module measured by model.net.layer_costs: 5x5 branch {comparison.without.branch_macs['branch5']:,} "
    f"multiply-adds without, {comparison.with_reductions.branch_macs['branch5']:,} with its reduction. "
    "Without reductions the module also outputs all its input channels from the pool branch, so the next layer "
    "would cost more too.")

diagram_col, branch_col = st.columns([3, 2])
diagram = nets.module_diagram(chosen)
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
    data=[go.Bar(x=[nets.BRANCH_NAMES[b] for b in nets.BRANCHES], y=[cost.branch_macs[b] for b in nets.BRANCHES],
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
st.markdown(
    f"""
The paper's answer: the Inception network NN2 reaches about the same accuracy as the Zeiler &
Fergus network NN1 with about **20 times fewer parameters** (7.5M against 140M) and the same
1.6B FLOPS, and its smaller-input versions keep most of the accuracy at a fraction of the
compute ({PAPER}, Sec. 3.3 and the experiments of Sec. 5). Fewer parameters mean a smaller
model to store and ship, and less to learn from the data; the compute decides how fast it runs.
"""
)
if card is None:
    st.info("The shipped model's card could not be read, so its accuracy is not shown here.")
else:
    acc = f"{card.accuracy:.1%}" if card.accuracy else "-"
    cols = st.columns(3)
    cols[0].metric("Shipped model: parameters", f"{card.params:,}" if card.params else "-", border=True)
    cols[1].metric("Shipped model: multiply-adds", nets.compact(card.macs) if card.macs else "-", border=True,
                   help=f"{card.macs:,} per {card.input_size} x {card.input_size} face" if card.macs else None)
    cols[2].metric("Shipped model: accuracy", acc, border=True,
                   help="Ten-fold accuracy on LFW's pairsDevTest, whose people were never seen in training"
                        + (f" (± {card.accuracy_se:.1%} standard error)." if card.accuracy_se else "."))
    if card.accuracy_se:
        acc += f" ± {card.accuracy_se:.1%}"
    same_as_above = width == 1.0 and (card.arch, card.input_size, card.params, card.macs) == (
        "inception", input_size, inc_params, inc_macs)
    nn2 = next(p for p in nets.PAPER_NETWORKS if p.name == "NN2")
    scale = (f", {nn2.params / card.params:.0f} times fewer parameters than NN2 and "
             f"{nn2.flops / card.macs:.0f} times less compute" if card.params and card.macs else "")
    st.markdown(
        f"Our shipped model is the {nets.ARCH_NAMES.get(card.arch, str(card.arch))} network at {card.input_size} x "
        f"{card.input_size} pixels and width x1: "
        f"{card.params:,} parameters and {nets.compact(card.macs)} multiply-adds per face"
        + (" (the very numbers counted above)" if same_as_above else "")
        + f"{scale}. On pairs of faces it has never seen it decides \"same person or not\" right {acc} of the time, "
        "where the paper reports 98.87% ± 0.15 on LFW with its far bigger networks and 100-200 million "
        "training faces.")
    if card.provisional:
        st.caption("This model was trained on a CPU and is provisional: a GPU-trained model will replace it.")
    st.caption("We trained no Zeiler & Fergus-style model, so there is no accuracy to put next to its cost.")

try_this(
    "Move the input size from 64 to 224 pixels. The Inception-style network's parameters do not change at all; "
    "the Zeiler & Fergus-style one's grow several times. Which of its layers grows, and why?",
    "Switch the bar chart to multiply-adds: the fully connected layers that hold most of the parameters almost "
    "vanish. Then turn on the logarithmic axis.",
    "In the module builder, set the 5x5 reduce width to 4, then to the number of input channels, then to the "
    "maximum. Once the \"reduction\" is as wide as the input, the 5x5 branch costs more with it than without "
    "(per-branch chart), and at the maximum the whole module does.",
    "Double the width multiplier: the parameters and multiply-adds of both networks grow about four times. "
    "Why four, not two?",
)

check_yourself([
    Question(
        "Why does the Zeiler & Fergus-style network need many more parameters, but not many more multiply-adds, "
        "than the Inception-style one?",
        ("Its convolutions have bigger kernels",
         "Its fully connected layers use each weight only once per image",
         "It has more layers",
         "Batch norm adds parameters"),
        "Its fully connected layers use each weight only once per image",
        "A convolution reuses its small kernel at every position of the map, so it costs many multiply-adds per "
        "parameter. A fully connected layer has one weight per input-output connection and uses it once: many "
        "parameters, few multiply-adds.",
        hints={"Its convolutions have bigger kernels": "Look at the bar chart in parameters: which layers are tallest?",
               "It has more layers": "It has fewer layers than the Inception-style network.",
               "Batch norm adds parameters": "Batch norm has two parameters per channel: check its bars."}),
    Question(
        "A 5x5 convolution turns 192 channels into 32 on a 28 x 28 map. A 1x1 reduction to 16 channels first "
        "costs 192·16·28² multiply-adds and leaves 5·5·16·32·28² for the 5x5. About how much cheaper is that "
        "than the 5x5 alone (5·5·192·32·28²)?",
        ("About the same", "About 2 times", "About 10 times", "About 100 times"),
        "About 10 times",
        "5·5·192·32 = 153,600 per position against 192·16 + 5·5·16·32 = 3,072 + 12,800 = 15,872: about 9.7 "
        "times fewer. Try it in the module builder.",
        hints={"About the same": "Work out the products per position: 25·192·32 against 192·16 + 25·16·32.",
               "About 2 times": "Work out the products per position: 25·192·32 against 192·16 + 25·16·32.",
               "About 100 times": "The 1x1 reduction and the smaller 5x5 still cost something: add both."}),
    Question(
        "The paper's NN1 and NN2 both need about 1.6B FLOPS. What does NN2 gain by being an Inception network?",
        ("It runs about 20 times faster", "It has about 20 times fewer parameters",
         "It is about 20% more accurate", "It needs no training"),
        "It has about 20 times fewer parameters",
        "7.5M against 140M parameters, for about the same accuracy and the same compute.",
        hints={"It runs about 20 times faster": "Both need the same 1.6B FLOPS per image.",
               "It is about 20% more accurate": "The paper finds their accuracy similar.",
               "It needs no training": "Every network here learns its parameters from faces."}),
], key="networks")
