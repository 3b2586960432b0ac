"""How fast the embedding explorer answers: the time from a control change to the updated map, and
the live run's time to its first update and to its end.

    python bench/bench_explorer.py [--data ../shared/data] [--rounds 2]

Controls are changed through Streamlit's AppTest (the script run that a browser's change
triggers, without the network and the drawing): each of the training step's values, each margin,
each mining, the model, 2-D/3-D, colour by cluster and the merge threshold. The first round meets
empty caches for each new run and step (the cluster tree is built once per run, step and linkage,
then shared by every session); later rounds are what the next student gets. The live run is
timed directly (`lessons.live_training.live_run` on Olivetti, as the page starts it, one thread).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def changes(app) -> list[tuple[str, object]]:
    """(control, value) pairs that walk through every control of the explorer."""
    plan = [("step", s) for s in app.select_slider(key="step").options]
    plan += [("alpha", a) for a in app.select_slider(key="alpha").options] + [("alpha", "0.2")]
    from lessons.explorer import MINING_NAMES

    plan += [("mining", m) for m in MINING_NAMES] + [("mining", "semi-hard")]
    plan += [("view", "3-D"), ("view", "2-D"), ("colour", "cluster"), ("colour", "person")]
    plan += [("cut", c) for c in (0.3, 0.9, 1.5, 0.6)]
    plan += [("model", "shipped"), ("model", "runs")]
    return plan


def apply(app, control: str, value) -> None:
    if control in ("step", "alpha"):
        widget = app.select_slider(key=control)
        value = type(widget.options[0])(value) if isinstance(value, str) else value
        widget.set_value(int(value) if control == "step" else float(value))
    elif control == "mining":
        app.selectbox(key="mining").set_value(value)
    elif control in ("view", "colour", "model"):
        app.button_group(key=control).set_value(value)
    elif control == "cut":
        app.slider(key="cut").set_value(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("FACENET_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from tools.apptest import open_page

    t0 = time.perf_counter()
    app = open_page("pages/explorer.py", args.data, timeout=600)
    print(f"first render of the explorer (fresh process): {time.perf_counter() - t0:.2f} s")
    per_round = []
    for round_ in range(args.rounds):
        times: dict[str, list[float]] = {}
        for control, value in changes(app):
            apply(app, control, value)
            t = time.perf_counter()
            try:
                app.run()
            except ValueError as err:
                print(f"cannot set {control} to {value!r}: {err}")
                return 1
            times.setdefault(control, []).append(time.perf_counter() - t)
            if app.exception:
                print("exception:", [e.value for e in app.exception])
                return 1
        per_round.append(times)
        every = [x for v in times.values() for x in v]
        label = "first round (new runs and steps: caches fill)" if round_ == 0 else f"round {round_ + 1} (warm)"
        print(f"\n{label}: {len(every)} changes, median {statistics.median(every) * 1000:.0f} ms, "
              f"p90 {statistics.quantiles(every, n=10)[-1] * 1000:.0f} ms, max {max(every) * 1000:.0f} ms")
        for control, v in times.items():
            print(f"  {control:<7} {len(v):>2} changes  median {statistics.median(v) * 1000:6.0f} ms  max {max(v) * 1000:6.0f} ms")

    from lessons import live_training as live
    from model.data import load_olivetti

    t = time.perf_counter()
    live_set = live.olivetti_set(load_olivetti(args.data))
    loaded = time.perf_counter() - t
    t = time.perf_counter()
    first = None
    for update in live.live_run(live_set, 0.2, "semi-hard"):
        if first is None:
            first = time.perf_counter() - t
    total = time.perf_counter() - t
    print(f"\nlive run on Olivetti ({live.LIVE_STEPS} steps, an update every {live.UPDATE_EVERY}): photos loaded in "
          f"{loaded:.2f} s (once per server), first update after {first:.2f} s, finished after {total:.1f} s; "
          f"held-out accuracy {update.held_out_accuracy[0][1]:.0%} -> {update.held_out_accuracy[-1][1]:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
