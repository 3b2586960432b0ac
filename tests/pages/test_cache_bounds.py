"""The caches of the pages and of ui/, checked in their source: a cache keyed by something a visitor
types (a data folder, a path) keeps a bounded number of entries, so a server stays small however
many folders are tried."""

from tests.helpers import REPO


def test_every_cache_keyed_by_a_path_or_folder_is_bounded():
    """A cache whose key anyone could vary (a folder, a path, where photos came from) must not grow
    without end: every such st.cache_data / st.cache_resource sets max_entries."""
    import ast

    keyed_by_input = {"path", "data_path", "data_folder", "folder", "source"}
    unbounded = []
    for file in sorted([*(REPO / "pages").glob("*.py"), *(REPO / "ui").glob("*.py")]):
        for node in ast.walk(ast.parse(file.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                name = ast.unparse(deco.func if isinstance(deco, ast.Call) else deco)
                if name not in ("st.cache_data", "st.cache_resource"):
                    continue
                bounded = isinstance(deco, ast.Call) and any(k.arg == "max_entries" for k in deco.keywords)
                if {a.arg for a in node.args.args} & keyed_by_input and not bounded:
                    unbounded.append(f"{file.name}:{node.lineno} {node.name}")
    assert not unbounded, unbounded
