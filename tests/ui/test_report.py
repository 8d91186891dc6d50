"""The consultation report: a real PDF, rendered page by page (pdfium) and read back, in English and Chinese."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest

from knowledge.advice import disclaimer
from knowledge.taxonomy import display_name
from ui.report import write_report

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


def read_pdf(path: Path, tmp_path: Path) -> tuple[list[str], list[np.ndarray]]:
    pdf = pdfium.PdfDocument(str(path))
    texts, pages = [], []
    for i in range(len(pdf)):
        page = pdf[i]
        texts.append(page.get_textpage().get_text_range())
        image = page.render(scale=1.0).to_pil()
        image.save(tmp_path / f"page{i}.png")  # rendered to PNG and read back
        pages.append(np.asarray(image.convert("RGB")))
    return texts, pages


@pytest.fixture()
def thread(consult, dataset, split, resources):
    from tests.agents.test_session_faults import accepted_test_image

    record = accepted_test_image(dataset, split, "mel", resources.intake_gate)
    first = consult.ask("report-1", "What is this lesion?", image=record.image_path)
    consult.ask("report-1", "why not a naevus?")
    consult.ask("report-1", "我该怎么办？")
    return first


def test_the_report_holds_images_estimate_tier_answers_sources_and_versions(consult, thread, tmp_path):
    info = write_report(consult, "report-1", tmp_path / "r.pdf", lang="en")
    assert info.turns == 3 and info.pages >= 2 and info.path.read_bytes()[:5] == b"%PDF-"
    texts, pages = read_pdf(info.path, tmp_path)
    text = "\n".join(texts)
    assert "dermagraph consultation report" in text and "report-1" in text
    assert disclaimer("en")[:60] in text.replace("\r\n", " ")
    label = thread.diagnosis["label"]
    assert display_name(label, "en") in text and f"heat map: {display_name(label, 'en')}" in text
    assert "Risk tier:" in text and "Question 1:" in text and "Question 3:" in text and "我该怎么办" in text
    assert "[K1]" in text and "References" in text and "Model versions" in text and "classifier" in text
    assert all(f"· {i + 1}" in t for i, t in enumerate(texts))  # every page numbered, with the footer
    first = pages[0]
    colourful = (first.max(axis=2).astype(int) - first.min(axis=2)).mean(axis=1) > 20  # rows with the photographs
    assert colourful.sum() > 60  # the three images are drawn, not just named


def test_a_chinese_report_is_chinese_and_the_cli_writes_it(consult, thread, tmp_path, settings):
    info = write_report(consult, "report-1", tmp_path / "zh.pdf")  # the last answer was Chinese
    texts, _ = read_pdf(info.path, tmp_path)
    text = "\n".join(texts)
    assert "会诊报告" in text and "风险等级" in text and "引用的来源" in text and disclaimer("zh")[:20] in text
    assert info.font == "DermagraphCJK"  # embedded: any viewer draws the Chinese
    with pytest.raises(ValueError, match="no completed turn"):
        write_report(consult, "never-asked", tmp_path / "none.pdf")


def test_the_command_line_refuses_bad_arguments_clearly(tmp_path):
    for args, words in ((["t1", "--out", str(tmp_path / "r.txt")], ".pdf"), (["bad id!", "--out", str(tmp_path / "r.pdf")], "thread id")):
        result = subprocess.run([DERMAGRAPH, "report", *args], capture_output=True, text=True, timeout=300)
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr


def test_the_command_line_writes_the_report_of_an_asked_consultation(tmp_path, index_dir, dataset, split):
    import os

    from tests.ui.app_server import isolated_var_dir

    env = {**os.environ, "DERMAGRAPH_VAR": str(isolated_var_dir(tmp_path, index_dir))}
    record = next(r for r in dataset if split[r.image_id] == "test" and r.dx == "nv")
    asked = subprocess.run([DERMAGRAPH, "ask", str(record.image_path), "-q", "这是什么？", "--thread", "cli-report"],
                           capture_output=True, text=True, timeout=600, env=env)
    assert asked.returncode == 0, asked.stderr[-2000:]
    out = tmp_path / "cli.pdf"
    made = subprocess.run([DERMAGRAPH, "report", "cli-report", "--out", str(out)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert made.returncode == 0, made.stderr[-2000:]
    assert "1 turn(s)" in made.stdout and out.read_bytes()[:5] == b"%PDF-"
    texts, _ = read_pdf(out, tmp_path)
    assert "会诊报告" in texts[0]  # the consultation was in Chinese
