"""``pendo-segments guides …`` through click: exit codes, output and exact errors."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.guides.manifest import SHIPPED_ROOT

BROKEN = Path(__file__).parent / "guide_fixtures" / "broken"


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["guides", *args])


@pytest.mark.parametrize("command", [[], ["render"], ["preview"], ["lint"]])
def test_help_has_an_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and "pendo-segments guides" in result.output


def test_lint_shipped_templates_is_clean() -> None:
    result = run("lint", "--templates", str(SHIPPED_ROOT), "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout == "file,line,rule,message\n"
    assert result.stderr == "OK: 9 guides checked, no problems\n"


def test_lint_broken_fixtures_fails_with_one_line_error() -> None:
    result = run("lint", "--templates", str(BROKEN), "--format", "csv")
    assert result.exit_code == 1
    assert result.stderr == "Error: 20 problems in guide templates\n"
    lines = result.stdout.splitlines()
    assert lines[0] == "file,line,rule,message" and len(lines) == 21
    assert any(",https-link," in line and "http_link.en.j2,4," in line for line in lines)


def test_lint_json_output_is_machine_readable(tmp_path: Path) -> None:
    out = tmp_path / "issues.json"
    result = run("lint", "--templates", str(BROKEN), "--format", "json", "--output", str(out))
    assert result.exit_code == 1 and result.stdout == ""
    issues = json.loads(out.read_text("utf-8"))
    assert {"file", "line", "rule", "message"} == set(issues[0])
    assert sorted({i["rule"] for i in issues}) == sorted(
        {
            "syntax",
            "undefined",
            "missing-locale",
            "missing-translation",
            "structure",
            "title-length",
            "step-length",
            "too-many-steps",
            "unbalanced-html",
            "unsafe-html",
            "dead-output",
            "https-link",
            "unsafe-template",
            "doubled-punctuation",
            "stray-space",
            "unbalanced-quotes",
            "unbalanced-brackets",
        }
    )


def test_render_writes_files_and_reports_count(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    result = run(
        "render", "--templates", str(SHIPPED_ROOT), "--out", str(out), "--guide", "no_login_email"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Rendered 8 guide variants (JSON + HTML) to {out}\n"
    assert (out / "no_login_email" / "no_login_30d" / "P1.ja.json").is_file()


def test_render_warns_about_fallbacks(tmp_path: Path) -> None:
    root = tmp_path / "t"
    shutil.copytree(SHIPPED_ROOT, root)
    (root / "no_login" / "welcome_back.ja.j2").unlink()
    result = run(
        "render", "--templates", str(root), "--out", str(tmp_path / "o"), "--guide", "welcome_back"
    )
    assert result.exit_code == 0
    warnings = result.stderr.splitlines()
    assert len(warnings) == 4  # one per tier
    assert warnings[0] == (
        f"Warning: welcome_back/no_login_30d/P1.ja.json: "
        f"{root}/no_login/welcome_back.ja.j2 is missing; using 'en'"
    )


def test_unknown_guide_is_a_user_error(tmp_path: Path) -> None:
    result = run(
        "render",
        "--templates",
        str(SHIPPED_ROOT),
        "--out",
        str(tmp_path / "o"),
        "--guide",
        "welcome_bak",
    )
    assert result.exit_code == 1
    assert result.stderr == "Error: unknown guide 'welcome_bak'; did you mean 'welcome_back'?\n"


def test_broken_manifest_is_reported_with_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "t"
    shutil.copytree(SHIPPED_ROOT, root)
    manifest = root / "guides.yaml"
    manifest.write_text(
        manifest.read_text("utf-8").replace("pendo_type: banner", "pendo_type: bannner"),
        encoding="utf-8",
    )
    line = manifest.read_text("utf-8").splitlines().index("    pendo_type: bannner") + 1
    result = run("lint", "--templates", str(root))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: {root}/guides.yaml:{line}: guides[6].pendo_type: Input should be 'lightbox'"
    )
    assert len(result.stderr.splitlines()) == 1


def test_preview_builds_the_gallery(tmp_path: Path) -> None:
    out = tmp_path / "preview"
    result = run("preview", "--templates", str(SHIPPED_ROOT), "--out", str(out))
    assert result.exit_code == 0
    assert result.stdout == f"Gallery written to {out / 'index.html'}\n"
    assert len(list((out / "pages").glob("*.html"))) == 36


def test_preview_with_data_picks_members_as_of_the_given_day(tmp_path: Path) -> None:
    out = tmp_path / "preview"
    result = run("preview", "--out", str(out), "--data", "sample", "--as-of", "2026-10-15")
    assert result.exit_code == 0, result.output
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "subjects from the data, as of 2026-10-15" in index
    records = json.loads((out / "gallery.json").read_text(encoding="utf-8"))
    assert all(s["member"] for r in records for s in r["subjects"].values())
    missing = run("preview", "--out", str(tmp_path / "p2"), "--data", str(tmp_path / "nowhere"))
    assert missing.exit_code == 1
    assert len(missing.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p2").exists()


def test_preview_serve_prints_the_url_and_stops_on_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []

    class FakeServer:
        server_address = ("127.0.0.1", 8765)

        def serve_forever(self) -> None:
            raise KeyboardInterrupt

        def server_close(self) -> None:
            calls.append("closed")

    def fake_make_server(folder: Path, host: str, port: int) -> FakeServer:
        calls.append((Path(folder), host, port))
        return FakeServer()

    monkeypatch.setattr("pendo_segments.guides.preview.make_server", fake_make_server)
    out = tmp_path / "preview"
    result = run(
        "preview", "--templates", str(SHIPPED_ROOT), "--out", str(out), "--serve", "--port", "8765"
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:] == [
        "Serving http://127.0.0.1:8765/ (Ctrl-C to stop)",
        "Stopped.",
    ]
    assert calls == [(out, "127.0.0.1", 8765), "closed"]


def test_preview_serve_on_a_busy_port_is_a_user_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(
            "preview",
            "--templates",
            str(SHIPPED_ROOT),
            "--out",
            str(tmp_path / "p"),
            "--serve",
            "--port",
            str(port),
        )
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: --port {port}: cannot listen on 127.0.0.1 (Address already in use)\n"
    )


@pytest.mark.parametrize("command", ["render", "preview"])
def test_out_never_deletes_a_users_file(tmp_path: Path, command: str) -> None:
    """Issue 12 #1: refuse a foreign folder; with --force keep every file not ours."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.md").write_text("mine", encoding="utf-8")
    extra = ["--guide", "no_login_email"] if command == "render" else []
    refused = run(command, "--templates", str(SHIPPED_ROOT), "--out", str(out), *extra)
    assert refused.exit_code == 1
    assert len(refused.output.splitlines()) == 1 and "--force" in refused.output
    assert [p.name for p in out.iterdir()] == ["notes.md"]
    forced = run(command, "--templates", str(SHIPPED_ROOT), "--out", str(out), "--force", *extra)
    assert forced.exit_code == 0, forced.output
    assert (out / "notes.md").read_text(encoding="utf-8") == "mine"
    assert (out / "index.html" if command == "preview" else out / "index.json").is_file()
