"""FaceNet, hands on: the course app. Start it with `streamlit run app.py`.

Only the page list, the sidebar shared by every page and presenter mode live here; each page is a
script under pages/. Nothing heavy is imported at this level so the app starts quickly: no torch
(the lessons import it when they need it; the home page describes the shipped model from its card).

The URL carries what a teacher would share: the page is its path (/margin), presenter mode is
`?presenter=true`, and each lesson binds its main controls (alpha, mining, thresholds, steps,
seeds) to query parameters named after their keys, e.g. /margin?margin-alpha=0.5.
"""

from pathlib import Path

import streamlit as st

from lessons import overview
from lessons.content import LessonText
from server.memory import hand_memory_back, keep_gc_fast
from server.offline import name_the_server
from server.startup import skip_streamlit_repl_check
from server.uploads import keep_uploads_in_memory
from ui.fit import fit_the_page
from ui.loaders import default_data_path, forget_where_the_data_was
from ui.presenter import presenter_mode, presenter_switch
from ui.visitor import on_own_machine

keep_uploads_in_memory()  # see server.uploads: no uploaded byte on disk
name_the_server()  # see server.offline: a lesson opened by its own address asks for nothing that 404s
hand_memory_back()  # see server.memory: once a class has gone, its memory goes back to the system
skip_streamlit_repl_check()  # see server.startup: 0.1-0.2 s off a new server's first page
presenting = presenter_mode()
st.set_page_config(
    page_title="FaceNet, hands on",
    page_icon=str(Path(__file__).parent / "ui" / "favicon.svg"),  # drawn here: no font from another host
    layout="wide",
    initial_sidebar_state="collapsed" if presenting else "expanded",
)
fit_the_page()  # see ui.fit: labels, option rows and long formulas wrap instead of being cut off

home = st.Page("pages/home.py", title="Welcome", icon=":material/home:", default=True)
lessons = [st.Page(lesson.page, title=lesson.nav_title, icon=lesson.icon)
           for lesson in overview.COURSE if lesson.available]
# In presenter mode the sidebar is hidden, so the menu moves to a bar along the top of the page.
page = st.navigation({"Course": [home], "Lessons": lessons} if lessons else [home],
                     position="top" if presenting else "sidebar")


def remember_data_path():
    # A widget's own state is dropped when a page without it is shown; "data_path" is what pages read.
    st.session_state["data_path"] = st.session_state["data_path_box"].strip()


st.session_state.setdefault("data_path", default_data_path())
# The data folder is the server's setting: only the person at the server's own machine may change it
# (ui.visitor; docs/serving.md). Every other visitor gets $FACENET_DATA, and no box to type in.
if not presenting and on_own_machine():
    words = LessonText("home")  # the sidebar's words are with the welcome page's
    st.session_state["data_path_box"] = st.session_state["data_path"]
    with st.sidebar:
        st.text_input(
            "Data folder",
            key="data_path_box",
            on_change=remember_data_path,
            placeholder="/path/to/data",
            help=words("help-data-folder"),
        )
        st.button("Check again", key="check_data_again", on_click=forget_where_the_data_was,
                  help=words("help-check-again"))
if presenter_switch(presenting) != presenting:
    st.rerun()  # switched on the first run of a link's session: lay the page out again for it

page.run()
keep_gc_fast()  # see server.memory: a class of students must not each pay a full garbage collection
