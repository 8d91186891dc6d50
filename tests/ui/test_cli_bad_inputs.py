"""The bad-input corpus through the command line (`ask`, `features`, `search`): one clear error line and exit code 2,
or a normal answer, or (a blank or colourless frame) the refusal with its reason; never a traceback. In-process (models load once) for the corpus, plus the real console script
for names a shell passes oddly."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.ui.app_server import isolated_var_dir
from ui.cli import app

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
CASES = json.loads((CORPUS / "cases.json").read_text())
DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))
COMMANDS = {
    "ask": lambda path: ["ask", str(path), "--question", "what is this?"],
    "features": lambda path: ["features", str(path)],
    "search": lambda path: ["search", str(path), "--k", "3"],
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory, index_dir, resources):
    """A runner whose consultations go to a temporary var folder (the indexes linked in)."""
    from knowledge.settings import get_settings

    var = isolated_var_dir(tmp_path_factory.mktemp("cli-bad"), index_dir)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DERMAGRAPH_VAR", str(var))
        get_settings.cache_clear()
        yield CliRunner()
    get_settings.cache_clear()


def assert_clear_error(result, match: str) -> None:
    output = result.output
    assert result.exit_code == 2, output
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not an escaped exception
    assert "Traceback" not in output and "error:" in output
    assert match.lower() in output.lower().replace("\n", " ")


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_image_command_gives_each_corpus_file_its_error_its_answer_or_its_reasoned_refusal(cli, command, name):
    case = CASES[name]
    result = cli.invoke(app, COMMANDS[command](CORPUS / name))
    if case["expect"] == "error":
        assert_clear_error(result, case["match"])
        return
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # rich wraps lines
    assert "Traceback" not in output
    if command == "ask" and "refused" in case:  # a blank or colourless frame: the gate's reason, no estimate
        assert output.startswith("**I will not estimate a diagnosis for this image:**"), output[:500]
        assert case["refused"] in output.split(" Upload a dermoscopy photograph")[0], output[:500]
        assert "Estimate (not a diagnosis)" not in output
    elif command == "ask":
        assert output.startswith("**Estimate (not a diagnosis):** the most likely class is"), output[:500]
    elif command == "features" and "no_lesion" in case:
        assert output.startswith("could not delineate the lesion") and case["no_lesion"] in output, output[:500]
    elif command == "features":
        assert output.startswith("- asymmetry:") and "- border:" in output, output[:500]
    else:  # search has no intake gate: it finds the nearest cases to whatever it is given
        assert "Similar cases" in output and "kNN vote of the top" in output, output[:500]


def test_a_file_over_the_size_limit_is_refused_by_every_command(cli, tmp_path, settings):
    big = tmp_path / "huge.jpg"
    big.write_bytes((CORPUS / "valid_lesion.jpg").read_bytes() + b"\0" * settings.max_upload_bytes)
    for command, args in COMMANDS.items():
        assert_clear_error(cli.invoke(app, args(big)), "the limit is")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([DERMAGRAPH, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


@pytest.mark.slow
def test_odd_names_as_a_shell_passes_them(tmp_path):
    # Relative names with spaces, quotes, unicode and a leading dash; a name with a newline and rich markup.
    odd = tmp_path / "line\nbreak [bold red]markup.png"
    odd.write_bytes(b"not pixels at all")
    unicode_ok = run("features", "--json", "mole photo (copy) ünïcødé 黑色素瘤.jpg", cwd=CORPUS)
    assert unicode_ok.returncode == 0 and json.loads(unicode_ok.stdout)["width"] == 200
    dash = run("features", "--json", "--", "-leading-dash.jpg", cwd=CORPUS)
    assert dash.returncode == 0, dash.stderr
    for args, match in [(("features", odd.name), "not an image format"),
                        (("features", "no such file.jpg"), "file not found"),
                        (("ask", "spaces and 'quotes'.jpg", "--thread", "../../etc/passwd"), "thread id")]:
        done = run(*args, cwd=tmp_path if args[1] != "spaces and 'quotes'.jpg" else CORPUS)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and match in " ".join(done.stderr.split())
    assert "[bold red]markup" in run("features", odd.name, cwd=tmp_path).stderr  # shown as text, not as markup
