"""Issue 12 #13: hostile templates are refused quickly, with little memory, at FILE:LINE."""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import pytest

from pendo_segments.guides import environment
from pendo_segments.guides.lint import lint
from pendo_segments.guides.manifest import load_manifest

FIXTURES = Path(__file__).parent / "guide_fixtures" / "broken"
HEADER = (FIXTURES / "guides.yaml").read_text("utf-8").split("guides:\n")[0]


def _templates(tmp_path: Path, body: str) -> Path:
    """A one-guide template folder whose step body (line 3) is ``body``."""
    root = tmp_path / "t"
    (root / "bad").mkdir(parents=True)
    shutil.copy(FIXTURES / "preview_subjects.yaml", root / "preview_subjects.yaml")
    (root / "guides.yaml").write_text(
        HEADER + "guides:\n  - {id: hostile, kind: welcome, pendo_type: lightbox, "
        "segments: [new_users], locales: [en], template: bad/hostile}\n",
        encoding="utf-8",
    )
    (root / "bad" / "hostile.en.j2").write_text(
        "{% block title %}Hi{% endblock %}\n{% block step_1_body %}\n"
        f"<p>{body}</p>\n{{% endblock %}}\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("{{ 'x' * 1000000000 }}", "repetition too large"),
        ("{{ 1000000000 * 'x' }}", "repetition too large"),
        ("{{ ['x'] * 1000000000 }}", "repetition too large"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "range too large",
        ),
        ("{{ 'x'.ljust(1000000000) }}", "str.ljust width too large"),
        ("{{ 'x' | center(1000000000) }}", "filter do_center argument too large"),
        ("{{ 'x' | indent(1000000000, true) }}", "filter do_indent argument too large"),
        ("{{ '%1000000000s' % 'x' }}", "% format width too large"),
        ("{{ '{:>1000000000}'.format('x') }}", "format width too large"),
        ("{{ 7 ** 1000000000 }}", "power (bits) too large"),
        ("{% for i in range(10000) %}{{ 'x' * 100000 }}{% endfor %}", "template output too large"),
        ("{% set s = 'x' * 100000 %}{{ s + s }}", "result of + too large"),
        ("{{ range(10000) | join('x' * 10000) }}", "join too large"),
        ("{{ ('x' * 10000).join(range(10000) | map('string')) }}", "join too large"),
    ],
)
def test_hostile_template_is_refused_at_its_line(tmp_path: Path, body: str, words: str) -> None:
    manifest = load_manifest(_templates(tmp_path, body))
    tracemalloc.start()
    try:
        issues = lint(manifest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert issues, "the hostile template was accepted"
    first = issues[0]
    assert (Path(first.file).name, first.line, first.rule) == (
        "hostile.en.j2",
        3,
        "unsafe-template",
    )
    assert words in first.message
    assert peak < 64 * 2**20  # never built the giant value (was 5.9 GB)


def test_a_loop_that_never_ends_is_stopped_by_the_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "TIME_LIMIT", 0.3)
    body = (
        "{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    )
    issues = lint(load_manifest(_templates(tmp_path, body)))
    assert [(Path(i.file).name, i.line, i.rule) for i in issues][:1] == [
        ("hostile.en.j2", 3, "timeout")
    ]
    assert "took longer than 0.3 s" in issues[0].message


def test_time_limit_in_a_worker_thread_uses_the_sandbox_hooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No SIGALRM outside the main thread: the range/attribute hooks stop the loop."""
    import threading

    monkeypatch.setattr(environment, "TIME_LIMIT", 0.3)
    body = (
        "{% for i in range(10000) %}{% for j in range(10000) %}{{ i.real }}{% endfor %}{% endfor %}"
    )
    manifest = load_manifest(_templates(tmp_path, body))
    monkeypatch.setattr(environment, "MAX_OUTPUT", 10**9)  # let the loop run, not the output cap
    got: list = []
    worker = threading.Thread(target=lambda: got.append(lint(manifest)), daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert got and got[0][0].rule == "timeout"


def test_ordinary_templates_still_render(tmp_path: Path) -> None:
    body = (
        "{{ '-' * 20 }} {{ range(3) | join(',') }} {{ 2 ** 10 }} {{ '%5s' % 'ab' }} "
        "{{ range(3) | length }} {{ range(5)[2] }} {{ range(3) | reverse | join }}"
    )
    assert lint(load_manifest(_templates(tmp_path, body))) == []
