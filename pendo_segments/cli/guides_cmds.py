"""``pendo-segments guides render | preview | lint``: guide copy per segment and locale."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from pendo_segments.base.words import plural
from pendo_segments.cli.options import AS_OF, force_option, output_format
from pendo_segments.cli.output import emit_rows, resolve_format, warn

F = TypeVar("F", bound=Callable[..., Any])


def templates_option(f: F) -> F:
    f = click.option(
        "--subjects",
        "subjects_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="Example subjects (YAML). Default: preview_subjects.yaml in the templates folder.",
    )(f)
    return click.option(
        "--templates",
        "templates",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None,
        metavar="DIR",
        help="Guide templates folder with guides.yaml. Default: ./guide_templates, "
        "else the shipped templates.",
    )(f)


def _load(templates: Path | None, subjects_file: Path | None) -> tuple[Any, Any]:
    from pendo_segments.guides.manifest import load_manifest
    from pendo_segments.guides.subjects import load_subjects

    manifest = load_manifest(templates)
    subjects = load_subjects(manifest, subjects_file) if subjects_file else None
    return manifest, subjects


@click.group("guides")
def guides() -> None:
    """Render, preview and lint guide copy per segment, tier and locale.

    \b
    Examples:
      pendo-segments guides lint
      pendo-segments guides preview --out preview/ --serve
      pendo-segments guides render --out rendered/ --guide no_login_email
    """


@guides.command("render")
@templates_option
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Folder to write. A folder of other files is refused unless --force; "
    "only files this command wrote are ever replaced or removed.",
)
@force_option
@click.option(
    "--guide",
    "guide_ids",
    multiple=True,
    metavar="ID",
    help="Only this guide (repeatable). Default: all.",
)
def render(
    templates: Path | None,
    subjects_file: Path | None,
    out: Path,
    force: bool,
    guide_ids: tuple[str, ...],
) -> None:
    """Write every guide × segment × tier × locale as JSON (for Pendo) and HTML.

    \b
    Example:
      pendo-segments guides render --out rendered/
      # rendered/welcome_lightbox/new_users/P1.ja.json, …/P1.ja.html, index.json
    """
    from pendo_segments.guides.export import write_rendered

    manifest, subjects = _load(templates, subjects_file)
    records = write_rendered(manifest, out, subjects, guide_ids or None, force=force)
    for record in records:
        if record["fallback"]:
            warn(f"{record['json']}: {record['fallback_reason']}")
    click.echo(f"Rendered {len(records)} guide variants (JSON + HTML) to {out}")


@guides.command("preview")
@templates_option
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Gallery folder to write. A folder of other files is refused unless --force; "
    "only files this command wrote are ever replaced or removed.",
)
@force_option
@click.option(
    "--data",
    "data",
    default=None,
    metavar="DIR",
    help="Usage data folder or 'sample': each page's subject is then a member of its "
    "segment (and tier, and language) in this data. Default: the example subjects.",
)
@click.option(
    "--as-of",
    "as_of",
    type=AS_OF,
    default=None,
    help="Evaluation day for --data. Default: the day after the latest usage date.",
)
@click.option(
    "--defs",
    "defs_path",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    metavar="PATH",
    help="Segment definitions for --data. Default: ./segment_defs, else the shipped ones.",
)
@click.option("--serve", is_flag=True, help="Serve the gallery on 127.0.0.1 until Ctrl-C.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port for --serve (0 = any free port).",
)
def preview(
    templates: Path | None,
    subjects_file: Path | None,
    out: Path,
    force: bool,
    data: str | None,
    as_of: Any,
    defs_path: Path | None,
    serve: bool,
    port: int,
) -> None:
    """Build a static gallery: every guide as customers see it, languages side by side.

    With --data, each page shows a real member of its segment (first by
    visitor id in the page's tier and language); a segment without members
    shows an example person, labelled as such.

    \b
    Example:
      pendo-segments guides preview --out preview/
      pendo-segments guides preview --out preview/ --data sample
      open preview/index.html      # or add --serve and open the printed URL
    """
    from pendo_segments.guides.preview import build_gallery, make_server
    from pendo_segments.guides.subjects import load_subjects

    manifest, subjects = _load(templates, subjects_file)
    chooser = None
    if data is not None:
        from pendo_segments.cli.common import load_data, load_defs
        from pendo_segments.guides.data_subjects import DataChooser
        from pendo_segments.shipped import shipped_path

        defs_path = defs_path or shipped_path("segment_defs")
        subjects = subjects or load_subjects(manifest)
        chooser = DataChooser(
            manifest,
            load_data(data, as_of=as_of),
            load_defs(defs_path),
            defs_path=defs_path,
            examples=subjects,
            as_of=as_of,
        )
    index = build_gallery(manifest, out, subjects, force=force, chooser=chooser)
    click.echo(f"Gallery written to {index}")
    if not serve:
        return
    from pendo_segments.errors import ConfigError

    try:
        server = make_server(out, "127.0.0.1", port)
    except OSError as err:
        raise ConfigError(f"--port {port}: cannot listen on 127.0.0.1 ({err.strerror})") from None
    click.echo(f"Serving http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.")
    finally:
        server.server_close()


@guides.command("lint")
@templates_option
@output_format
def lint(
    templates: Path | None, subjects_file: Path | None, fmt: str | None, output: Path | None
) -> None:
    """Check every guide template; exit 1 when any problem is found.

    Rules: undefined variables, missing locale / translation, title and step
    length limits, too many walkthrough steps, unbalanced or unsafe HTML (what
    the nh3 sanitiser would remove), dead {{ }} output, links that are not https,
    and the punctuation of the rendered text: doubled marks ("Inc.."), stray
    spaces, unbalanced quotes and brackets. Every guide is rendered for every
    example subject and tier, plus built-in subjects whose company names end in
    "Inc.", "Ltd." and "株式会社".

    \b
    Example:
      pendo-segments guides lint
      pendo-segments guides lint --templates my_templates --format csv
    """
    from pendo_segments.errors import RenderError
    from pendo_segments.guides.lint import lint as run_lint
    from pendo_segments.guides.lint import lint_templates
    from pendo_segments.guides.manifest import default_root

    try:
        manifest, subjects = _load(templates, subjects_file)
    except RenderError as err:  # an invalid guides.yaml: still report the templates' problems
        more = [str(i) for i in lint_templates(templates or default_root())]
        if not more:
            raise
        raise RenderError("\n".join([str(err), *more])) from None
    issues = run_lint(manifest, subjects)
    fmt = resolve_format(fmt, output)
    if issues or fmt != "table":
        emit_rows(
            ["file", "line", "rule", "message"],
            [(i.file, i.line, i.rule, i.message) for i in issues],
            fmt,
            output,
            title="Guide template problems",
        )
    if issues:
        raise RenderError(f"{plural(len(issues), 'problem')} in guide templates")
    click.echo(f"OK: {len(manifest.guides)} guides checked, no problems", err=True)
