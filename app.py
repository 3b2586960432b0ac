"""FaceNet, hands on: the course app. Start it with `streamlit run app.py`.

Only the page list and the sidebar shared by every page live here; each page is a script under
pages/. Nothing heavy is imported at this level so the app starts quickly (pages import torch
when they need it).
"""

import streamlit as st

from lessons import overview
from pages.common import forget_where_the_data_was

st.set_page_config(
    page_title="FaceNet, hands on",
    page_icon=":material/face:",
    layout="wide",
    initial_sidebar_state="expanded",
)

home = st.Page("pages/home.py", title="Welcome", icon=":material/home:", default=True)
lessons = [st.Page(lesson.page, title=lesson.nav_title, icon=lesson.icon)
           for lesson in overview.COURSE if lesson.available]
page = st.navigation({"Course": [home], "Lessons": lessons} if lessons else [home])


def remember_data_path():
    # A widget's own state is dropped when a page without it is shown; "data_path" is what pages read.
    st.session_state["data_path"] = st.session_state["data_path_box"].strip()


st.session_state.setdefault("data_path", overview.default_data_path())
st.session_state["data_path_box"] = st.session_state["data_path"]
with st.sidebar:
    st.text_input(
        "Data folder",
        key="data_path_box",
        on_change=remember_data_path,
        placeholder="/path/to/data",
        help="A folder holding lfw/ (and, optionally, olivetti/). Left empty, the app looks in "
        "the FACENET_DATA environment variable's folder, then in scikit-learn's data home.",
    )
    st.button("Check again", key="check_data_again", on_click=forget_where_the_data_was,
              help="Look for the data once more, e.g. after downloading it.")

page.run()
