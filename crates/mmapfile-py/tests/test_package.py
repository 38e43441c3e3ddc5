"""The installed package: the type stub ships in the wheel and describes the module."""

import ast
import pathlib
import types

import mmapfile


def stub_path():
    return pathlib.Path(mmapfile.__file__).parent / "__init__.pyi"


def test_stub_and_py_typed_are_installed():
    folder = pathlib.Path(mmapfile.__file__).parent
    assert stub_path().is_file(), f"no stub in {folder}"
    assert (folder / "py.typed").is_file()


def test_stub_names_match_the_module():
    tree = ast.parse(stub_path().read_text())
    names = set()
    classes = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    # The package re-exports its compiled submodule, which is not part of the API.
    public = {
        name
        for name in dir(mmapfile)
        if not name.startswith("_") and not isinstance(getattr(mmapfile, name), types.ModuleType)
    }
    assert {name for name in names if not name.startswith("_")} == public
    for class_name, methods in classes.items():
        cls = getattr(mmapfile, class_name)
        assert {name for name in dir(cls) if not name.startswith("_")} == {
            name for name in methods if not name.startswith("_")
        }, class_name
        # Every documented dunder exists, except the PEP 688 names (the slot is there instead).
        for name in methods - {"__buffer__", "__release_buffer__"}:
            assert hasattr(cls, name), (class_name, name)


def test_import_mmapfile_as_mmap():
    assert mmapfile.mmap.__module__ == "mmap"
    assert mmapfile.mmap.__name__ == "mmap"
    assert mmapfile.error is OSError
