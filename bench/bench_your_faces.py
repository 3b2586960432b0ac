"""From a photo to its landed point on the "Your faces" page: how long it takes on this CPU.

    python bench/bench_your_faces.py [--data ../shared/data] [--repeats 20] [--uploads 8]

1. The landing itself (lessons/your_faces.py, no Streamlit): `process_photo` (decode, find the face,
   crop, embed with the shipped model, draw the preview), then `place` on the shipped 2-D map and
   the nearest people and photos of the explorer set. Warm: the median of `--repeats` landings
   in this process after one untimed landing. Cold: the first landing in a fresh Python process,
   which also imports torch, OpenCV and the course's modules and loads the model and the maps.
2. The page, driven through Streamlit's AppTest (the script run a browser's upload triggers,
   without the network and the drawing): the first render with empty caches, then `--uploads`
   uploads that each add one new photo (so each run finds, crops, embeds and places exactly one
   face and redraws everything), then reruns that change a widget with those photos in place.
3. The map's figure, which every run of the page sends: from its traces to its JSON, built as
   lists on every run against the page's way (the 3,023 photos cached as arrays, the stars added).

The photos are bench/photo_fixtures.py's three, made in memory from one LFW photo
(George_W_Bush_0001.jpg): the 250 x 250 JPEG, a small face (~115 px) in a 3000 x 4000 phone frame,
and a selfie (face ~920 px). The uploads of part 2 are further LFW photos, re-encoded in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from photo_fixtures import SMALL_FACE, jpeg, lfw_images, phone_photos

REPO = Path(__file__).resolve().parents[1]
PHOTO = "George_W_Bush/George_W_Bush_0001.jpg"
PAGE = "pages/your_faces.py"


def default_data() -> str:
    return os.environ.get("FACENET_DATA") or str(REPO.parent / "shared" / "data")


# --------------------------------------------------------------------------------------------
# 1. The landing
# --------------------------------------------------------------------------------------------


def shipped_map(maps) -> tuple[np.ndarray, np.ndarray]:
    from model.maps import SHIPPED

    run = maps.runs[SHIPPED]
    step = int(run.steps[-1])
    return run.embeddings(step), run.points(step, 2)


def land(model, maps, embeddings, points, data: bytes) -> dict:
    """One photo to its landed point, timed in parts."""
    from lessons import your_faces as yf
    from lessons.torch_threads import single_threaded
    from model.faces import prepare_face

    t0 = time.perf_counter()
    prepared = prepare_face(data)
    t1 = time.perf_counter()
    with single_threaded():  # as lessons.your_faces.process_photo embeds
        vector = model.embed_crops(np.array(prepared.crop)[None])[0]
    t2 = time.perf_counter()
    where = yf.place(vector, embeddings, points)[0]
    people = yf.nearest_people(vector, embeddings, maps.labels, k=3)
    yf.nearest_photos(vector, embeddings, maps.labels, k=5)
    t3 = time.perf_counter()
    yf.draw_boxes(prepared.photo, [tuple(v * prepared.photo_scale for v in b) for b in prepared.boxes], prepared.chosen)
    t4 = time.perf_counter()
    return {"prepare": t1 - t0, "embed": t2 - t1, "place": t3 - t2, "preview": t4 - t3, "total": t4 - t0,
            "nearest": maps.names[people[0].person], "where": where.tolist()}


def cold_child(images: str, which: str) -> None:
    """In a fresh process: imports, the model, the maps, one landing; one line of JSON out. The photo
    is made first, with Pillow and numpy only, so the clock starts before torch and OpenCV load."""
    data = phone_photos(Path(images), PHOTO)[which]
    t0 = time.perf_counter()
    import torch  # noqa: F401  (part of a cold start)

    from lessons import your_faces  # noqa: F401
    from model.embed import load_model
    from model.maps import load_explorer_maps

    t1 = time.perf_counter()
    model, maps = load_model(), load_explorer_maps()
    embeddings, points = shipped_map(maps)
    t2 = time.perf_counter()
    result = land(model, maps, embeddings, points, data)  # includes loading the Haar cascades
    t3 = time.perf_counter()
    print(json.dumps({"imports": t1 - t0, "load": t2 - t1, "first": t3 - t2, "total": t3 - t0,
                      "nearest": result["nearest"]}))


def landing_table(images: Path, repeats: int) -> None:
    import torch

    from model.embed import load_model
    from model.maps import load_explorer_maps

    model, maps = load_model(), load_explorer_maps()
    embeddings, points = shipped_map(maps)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"photo: {PHOTO}; warm = median of {repeats} landings; cold = first landing in a new process\n")
    rows = []
    for name, data in phone_photos(images, PHOTO).items():
        land(model, maps, embeddings, points, data)
        runs = [land(model, maps, embeddings, points, data) for _ in range(repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("prepare", "embed", "place", "preview", "total")}
        out = subprocess.run([sys.executable, __file__, "--cold", name, "--images", str(images)],
                             capture_output=True, text=True, check=True).stdout
        cold = json.loads(out.strip().splitlines()[-1])
        rows.append((name, f"{len(data) / 1e6:.2f} MB", f"{med['prepare'] * 1000:.0f}", f"{med['embed'] * 1000:.1f}",
                     f"{med['place'] * 1000:.1f}", f"{med['preview'] * 1000:.1f}", f"{med['total'] * 1000:.0f}",
                     f"{cold['total']:.2f} s ({cold['imports']:.1f} + {cold['load']:.2f} + {cold['first']:.2f})",
                     runs[0]["nearest"].replace("_", " ")))
        print(f"  {name}: warm {med['total'] * 1000:.0f} ms, cold {cold['total']:.2f} s", flush=True)
    header = ("photo", "bytes", "find + crop ms", "embed ms", "place + neighbours ms", "preview ms", "warm total ms",
              "cold total (imports + model & maps + first landing)", "nearest person")
    print("\n| " + " | ".join(header) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


# --------------------------------------------------------------------------------------------
# 2. The page
# --------------------------------------------------------------------------------------------


def timed_run(app) -> float:
    t0 = time.perf_counter()
    app.run()
    seconds = time.perf_counter() - t0
    if app.exception:
        raise SystemExit(f"the page raised: {[e.value for e in app.exception]}")
    return seconds


def page_table(data: str, images: Path, uploads: int) -> None:
    import streamlit as st

    from tools.apptest import open_page

    st.cache_data.clear()
    st.cache_resource.clear()
    t0 = time.perf_counter()
    app = open_page(PAGE, data)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    open_page(PAGE, data)
    warm_open = time.perf_counter() - t0

    people = ["George_W_Bush", "Tony_Blair", "Colin_Powell", "Gerhard_Schroeder", "Ariel_Sharon", "Hugo_Chavez",
              "Jean_Chretien", "Junichiro_Koizumi", "Serena_Williams", "John_Ashcroft"]
    files, added = [], []
    for i in range(uploads):
        person = people[i % len(people)]
        rel = f"{person}/{person}_{i // len(people) + 2:04d}.jpg"
        with Image.open(images / rel) as im:
            files.append((f"{i + 1}.jpg", jpeg(im.convert("RGB")), "image/jpeg"))
        app.file_uploader(key="your_faces_upload").set_value(list(files))
        added.append(timed_run(app))
    phone = phone_photos(images, PHOTO)[SMALL_FACE]
    app.file_uploader(key="your_faces_upload").set_value(list(files) + [("phone.jpg", phone, "image/jpeg")])
    phone_s = timed_run(app)

    changes = []
    for _ in range(3):
        for toggle in ("names", "yf_lfw_gallery"):
            widget = app.toggle(key=toggle)
            widget.set_value(not widget.value)
            changes.append(timed_run(app))
        for view in ("3-D", "2-D"):
            app.button_group(key="view").set_value(view)
            changes.append(timed_run(app))
        for threshold in ("balanced", "strict"):
            app.button_group(key="threshold").set_value(threshold)
            changes.append(timed_run(app))
    first = added[0]
    rest = added[1:] or added
    print(f"\nThe page through AppTest ({PAGE}; each run goes through app.py, as in the browser)\n")
    print("| what | seconds |")
    print("|---|---:|")
    print(f"| first render, Streamlit's caches empty (loads the model, the maps, the LFW embeddings; modules already imported) | {cold:.2f} |")
    print(f"| first render, warm caches | {warm_open:.2f} |")
    print(f"| first upload (also loads the LFW photos for the neighbours' faces, measures the distance reference) | {first:.2f} |")
    print(f"| each further upload of one LFW photo, median of {len(rest)} (photos 2 to {uploads}) | "
          f"{statistics.median(rest):.2f} |")
    print(f"| upload of a 3000 x 4000 phone photo, with {uploads} photos in place | {phone_s:.2f} |")
    print(f"| a widget change with {uploads + 1} photos in place, median of {len(changes)} (p90 "
          f"{np.percentile(changes, 90):.2f}) | {statistics.median(changes):.2f} |")


# --------------------------------------------------------------------------------------------
# 3. The map's figure
# --------------------------------------------------------------------------------------------


def to_browser(traces: list[dict], dims: int) -> int:
    """What a page run does with the map's traces until they are on their way to the browser: the
    course's figure (ui.widgets.chart), then the two steps of st.plotly_chart (Plotly's copy of
    the figure as a dict, and its JSON). Returns the JSON's length."""
    import plotly.io
    import plotly.tools

    from lessons import explorer as ex
    from ui.widgets import chart

    figure = chart(traces, "The shipped model's map", height=600, **ex.map_layout(dims))
    as_dict = plotly.tools.return_figure_from_figure_or_data(figure, validate_figure=True)
    return len(plotly.io.to_json(as_dict, validate=False))


def map_figure_table(repeats: int) -> None:
    """The map of the Your-faces page (3,023 photos and one star), per page run: its traces built
    as lists on every run, against the page's way (the photos' traces built once as arrays,
    `ui.widgets.as_arrays`, and only the stars built per run)."""
    from lessons import explorer as ex
    from model.maps import SHIPPED, load_explorer_maps
    from ui.widgets import as_arrays

    maps = load_explorer_maps()
    run = maps.runs[SHIPPED]
    print(f"\nThe Your-faces map's figure per page run, from its traces to its JSON (median of {repeats})\n")
    print("| view | traces built as lists on every run | photos cached as arrays, stars per run | JSON sent |")
    print("|---|---:|---:|---|")
    for dims in (2, 3):
        points = run.points(int(run.steps[-1]), dims)
        stars = [ex.ExtraPoint(tuple(float(v) for v in points[0]), "1")]
        cached = [as_arrays(t) for t in ex.map_traces(maps, points)]
        ways = {"lists": lambda: to_browser([*ex.map_traces(maps, points), *ex.star_traces(stars, dims)], dims),
                "arrays": lambda: to_browser([*cached, *ex.star_traces(stars, dims)], dims)}
        times, sizes = {}, {}
        for _ in range(repeats):
            for way, draw in ways.items():  # alternating, so that both see the same machine
                t0 = time.perf_counter()
                sizes[way] = draw()
                times.setdefault(way, []).append(time.perf_counter() - t0)
        ms = {way: 1000 * statistics.median(t) for way, t in times.items()}
        print(f"| {dims}-D | {ms['lists']:.1f} ms | {ms['arrays']:.1f} ms | "
              f"{sizes['lists'] / 1024:.0f} KB / {sizes['arrays'] / 1024:.0f} KB |", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=default_data(), help="data folder (default: $FACENET_DATA, else ../shared/data)")
    parser.add_argument("--repeats", type=int, default=20, help="warm landings per photo (median reported)")
    parser.add_argument("--uploads", type=int, default=8, help="photos uploaded one by one on the page")
    parser.add_argument("--skip-page", action="store_true", help="the landing and the map only, not the page")
    parser.add_argument("--cold", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--images", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold:
        return cold_child(args.images, args.cold)
    images = lfw_images(args.data)
    landing_table(images, args.repeats)
    if not args.skip_page:
        os.environ.setdefault("FACENET_DATA", args.data)
        page_table(args.data, images, args.uploads)
    map_figure_table(args.repeats)


if __name__ == "__main__":
    main()
