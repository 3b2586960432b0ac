"""FaceNet, hands on: the course app. Start it with `streamlit run app.py`.

Only the page list lives here; each page is a script under pages/. Nothing heavy is imported at
this level so the app starts quickly (pages import torch when they need it).
"""

import streamlit as st

st.set_page_config(
    page_title="FaceNet, hands on",
    page_icon=":material/face:",
    layout="wide",
    initial_sidebar_state="expanded",
)

pages = [
    st.Page("pages/home.py", title="Welcome", icon=":material/home:", default=True),
    # Lesson pages are added here as they are written.
]
st.navigation(pages).run()
