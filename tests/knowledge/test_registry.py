"""The registry helper: duplicates refused, unknown names listed, modules imported only when asked for."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from knowledge.registry import Registry


@pytest.fixture()
def make_package(tmp_path, monkeypatch):
    """A throwaway package on sys.path: {module name: source}; removed from sys.modules afterwards."""
    made: list[str] = []

    def make(name: str, modules: dict[str, str]) -> str:
        root = tmp_path / name
        root.mkdir()
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
        made.append(name)
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for key in [k for k in sys.modules if k.split(".")[0] in made]:
        del sys.modules[key]


def test_registering_adds_and_returns_the_object():
    widgets: Registry[object] = Registry("widget")

    @widgets.register("b")
    def b():
        return "b"

    widgets.register("a")(len)
    assert b() == "b" and widgets.get("b") is b and widgets.get("a") is len
    assert widgets.names() == ["a", "b"]  # sorted, whatever the order of registration
    assert "a" in widgets and "c" not in widgets and widgets["a"] is len


def test_a_name_registered_twice_for_another_object_is_refused():
    widgets: Registry[object] = Registry("widget")
    widgets.register("a")(len)
    widgets.register("a")(len)  # the same object again (a module imported twice): fine
    with pytest.raises(ValueError, match="widget 'a' registered twice"):
        widgets.register("a")(abs)
    assert widgets.get("a") is len


def test_an_unknown_name_says_what_is_available():
    widgets: Registry[object] = Registry("image tower")
    for name in ("zeta", "alpha"):
        widgets.register(name)(object())
    with pytest.raises(ValueError, match=r"^unknown image tower 'beta'; available: alpha, zeta$"):
        widgets.get("beta")
    with pytest.raises(ValueError, match=r"^unknown image tower\(s\) beta, gamma; available: alpha, zeta$"):
        widgets.require(["alpha", "beta", "gamma"])
    widgets.require(["zeta", "alpha"])


def test_a_lazy_registry_lists_modules_without_importing_and_imports_only_the_one_asked_for(make_package):
    pkg = make_package("lazy_widgets", {
        "__init__": 'from knowledge.registry import Registry\nWIDGETS = Registry("widget", __name__, lazy=True)\n',
        "alpha": 'from lazy_widgets import WIDGETS\n\n@WIDGETS.register("alpha")\ndef alpha():\n    return "a"\n',
        "beta": 'from lazy_widgets import WIDGETS\n\n@WIDGETS.register("beta")\ndef beta():\n    return "b"\n',
        "_helpers": "raise AssertionError('a private module is never imported')\n",
    })
    import lazy_widgets

    widgets = lazy_widgets.WIDGETS
    assert widgets.names() == ["alpha", "beta"]
    assert f"{pkg}.alpha" not in sys.modules and f"{pkg}.beta" not in sys.modules and "alpha" not in widgets
    assert widgets.get("beta")() == "b"
    assert f"{pkg}.beta" in sys.modules and f"{pkg}.alpha" not in sys.modules
    with pytest.raises(ValueError, match=r"^unknown widget '_helpers'; available: alpha, beta$"):
        widgets.get("_helpers")


def test_a_package_registry_imports_every_module_to_list_names_a_module_may_register_several(make_package):
    make_package("bench_widgets", {
        "__init__": 'from knowledge.registry import Registry\nBENCHES = Registry("benchmark", __name__)\n',
        "speed": 'from bench_widgets import BENCHES\n\nBENCHES.register("speed_p50")(min)\nBENCHES.register("speed_p95")(max)\n',
    })
    from bench_widgets import BENCHES

    assert "speed_p50" not in BENCHES
    assert BENCHES.names() == ["speed_p50", "speed_p95"]
    with pytest.raises(ValueError, match=r"^unknown benchmark\(s\) speed; available: speed_p50, speed_p95$"):
        BENCHES.require(["speed"])  # a module name is not an entry here


def test_a_lazy_registry_needs_its_package():
    with pytest.raises(ValueError, match="needs the package"):
        Registry("widget", lazy=True)


def test_the_cpu_default_lists_backends_without_importing_the_qwen2vl_backend():
    code = ("import sys; from models.classifiers import available_backends, get_classifier\n"
            "assert available_backends() == ['encoder', 'ensemble', 'qwen2vl'], available_backends()\n"
            "try:\n    get_classifier('resnet')\nexcept ValueError as e:\n    print(e)\n"
            "assert 'models.classifiers.qwen2vl' not in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "unknown classifier backend 'resnet'; available: encoder, ensemble, qwen2vl"
