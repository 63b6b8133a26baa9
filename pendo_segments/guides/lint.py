"""``guides lint``: everything that makes copy wrong before a customer sees it.

Two passes. *Static* checks read each template's jinja2 syntax tree (unknown
variables and fields, output that can print nothing, template syntax that
would reach the customer verbatim, block structure, missing translations).
*Rendered* checks render every guide × locale × tier with every example
subject, plus built-in subjects whose names end in "Inc.", "Ltd." and
"株式会社" (``subjects.NAME_EDGE_SUBJECTS``), and inspect the result (length
limits, step counts, HTML balance, what the sanitiser would remove, non-https
links, and the punctuation of the text a reader sees: ``punctuation.py``).
Each finding is one :class:`LintIssue` at ``FILE:LINE``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import nodes

from pendo_segments.base.words import plural
from pendo_segments.definitions.yaml_lines import closest
from pendo_segments.guides import htmltools, punctuation
from pendo_segments.guides.context import CONTEXT_NAMES, OBJECT_FIELDS
from pendo_segments.guides.environment import TemplateError
from pendo_segments.guides.i18n import display_width
from pendo_segments.guides.manifest import Guide, Manifest, display_path
from pendo_segments.guides.render import EMAIL_LAYOUT, RawGuide, assemble, render_raw
from pendo_segments.guides.source import BLOCK_NAME, EMAIL_ONLY_BLOCKS, TemplateSource, load_source
from pendo_segments.guides.subjects import SUBJECTS_NAME, load_subjects, with_name_edge_cases

#: rule → what it catches (shown by ``guides lint --help`` and in the README)
RULES: dict[str, str] = {
    "syntax": "jinja2 syntax error",
    "undefined": "variable or field that is not in the render context (typo)",
    "missing-locale": "a locale listed in guides.yaml has no template file",
    "missing-translation": "a block of the English template is missing in a translation",
    "structure": "unknown / missing blocks, non-link content in buttons, tags in titles",
    "title-length": "guide title or email subject over the limit for its guide type",
    "step-length": "step title, body or button label over the limit",
    "too-many-steps": "more steps than the guide type allows (walkthrough: 3)",
    "unbalanced-html": "a tag that is never closed or closes nothing",
    "unsafe-html": "script, inline event handler, or anything the nh3 sanitiser removes",
    "dead-output": "{{ }} that can print nothing, or template syntax printed verbatim",
    "https-link": "a link or button URL that is not https://",
    **punctuation.RULES,
    "unsafe-template": "template code the sandbox refuses, or too large a string, range or output",
    "timeout": "a template that runs longer than the time limit (5 s of CPU time per render)",
    "render": "any other error while rendering",
}
_VERBATIM = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}|\{\s*[A-Za-z_][\w.]*\s*\}")
_LAYOUT_NAMES = frozenset({"email"})
_JINJA_NAMES = frozenset(
    {
        "loop",
        "caller",
        "varargs",
        "kwargs",
        "range",
        "dict",
        "namespace",
        "cycler",
        "joiner",
        "lipsum",
    }
)


@dataclass(frozen=True, order=True)
class LintIssue:
    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"


def lint(manifest: Manifest, subjects: Sequence[dict[str, Any]] | None = None) -> list[LintIssue]:
    """Every problem in the manifest's templates, sorted by file and line.

    ``subjects`` default to ``preview_subjects.yaml`` (or one built-in subject
    with every optional field empty when that file does not exist); the
    built-in subjects with awkward names are always added.
    """
    if subjects is None:
        has_file = (manifest.root / SUBJECTS_NAME).is_file()
        subjects = load_subjects(manifest) if has_file else [_EMPTY_SUBJECT]
    subjects = with_name_edge_cases(subjects)
    issues, sources = _templates(Path(manifest.root))
    for guide in manifest.guides:
        issues.update(_guide(manifest, guide, sources, subjects))
    return sorted(_drop_echoes(issues))


def lint_templates(root: Path | str) -> list[LintIssue]:
    """The checks that need no manifest (syntax, unknown names, dead output), so that
    ``guides lint`` still reports template problems in the run where guides.yaml is invalid."""
    issues, _ = _templates(Path(root))
    return sorted(_drop_echoes(issues))


def _templates(root: Path) -> tuple[set[LintIssue], dict[str, TemplateSource]]:
    issues: set[LintIssue] = set()
    sources: dict[str, TemplateSource] = {}
    for path in sorted(root.rglob("*.j2")):
        name = path.relative_to(root).as_posix()
        try:
            sources[name] = load_source(root, name)
        except TemplateError as err:
            issues.add(_issue(err))
            continue
        issues.update(_static(sources[name], layout=name.startswith("_layouts/")))
    return issues, sources


def _drop_echoes(issues: set[LintIssue]) -> set[LintIssue]:
    """A typo found statically also fails every render; report it once, with the hint."""
    static = {
        (i.file, i.line)
        for i in issues
        if i.rule == "undefined" and i.message.startswith("unknown ")
    }
    return {
        i
        for i in issues
        if not (
            i.rule == "undefined"
            and (i.file, i.line) in static
            and not i.message.startswith("unknown ")
        )
    }


def _issue(err: TemplateError) -> LintIssue:
    return LintIssue(err.file, err.line, err.rule, err.message)


# ---------------------------------------------------------------- static checks


def _static(source: TemplateSource, layout: bool) -> Iterator[LintIssue]:
    at = source.display
    allowed = CONTEXT_NAMES | (_LAYOUT_NAMES if layout else frozenset())
    local = _locally_bound(source.ast)
    for node in source.ast.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in allowed and node.name not in local:
            hint = closest(node.name, allowed)
            yield LintIssue(
                at,
                node.lineno,
                "undefined",
                f"unknown variable '{node.name}'" + (f"; did you mean '{hint}'?" if hint else ""),
            )
    for access, obj, field in _field_accesses(source.ast, local):
        if field not in OBJECT_FIELDS[obj] and not field.startswith("_"):  # _x: the sandbox's job
            hint = closest(field, OBJECT_FIELDS[obj])
            yield LintIssue(
                at,
                access.lineno,
                "undefined",
                f"unknown field '{obj}.{field}'"
                + (f"; did you mean '{obj}.{hint}'?" if hint else "")
                + f" (fields: {', '.join(OBJECT_FIELDS[obj])})",
            )
    yield from _dead_output(source)
    if not layout and not source.name.startswith("_"):
        for block, line in source.block_lines.items():
            if not BLOCK_NAME.match(block):
                yield LintIssue(
                    at,
                    line,
                    "structure",
                    f"unknown block '{block}' (blocks: title, "
                    "step_N_title, step_N_body, step_N_buttons; email: subject, "
                    "preheader, footer)",
                )


def _locally_bound(ast: nodes.Template) -> set[str]:
    """Names a template binds itself ({% set %}, {% for %}, macro arguments, imports)."""
    bound: set[str] = set()
    for node in ast.find_all(
        (
            nodes.Assign,
            nodes.AssignBlock,
            nodes.For,
            nodes.Macro,
            nodes.Import,
            nodes.FromImport,
            nodes.CallBlock,
        )
    ):
        if isinstance(node, nodes.Macro):
            bound.add(node.name)
            bound.update(arg.name for arg in node.args)
        elif isinstance(node, nodes.Import):
            bound.add(node.target)
        elif isinstance(node, nodes.FromImport):
            bound.update(n if isinstance(n, str) else n[1] for n in node.names)
        elif isinstance(node, (nodes.Assign, nodes.AssignBlock, nodes.For)):
            bound.update(n.name for n in node.target.find_all(nodes.Name))
            if isinstance(node.target, nodes.Name):
                bound.add(node.target.name)
    return bound | _JINJA_NAMES


def _field_accesses(ast: nodes.Template, local: set[str]) -> Iterator[tuple[nodes.Node, str, str]]:
    """``(node, object, field)`` for each ``visitor.x`` / ``account["x"]`` in the template."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node  # type: ignore[attr-defined]
        if not (
            isinstance(target, nodes.Name)
            and target.name in OBJECT_FIELDS
            and target.name not in local
        ):
            continue
        if isinstance(node, nodes.Getattr):
            yield node, target.name, node.attr
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            yield node, target.name, node.arg.value


def _dead_output(source: TemplateSource) -> Iterator[LintIssue]:
    at = source.display
    for output in source.ast.find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.TemplateData):
                match = _VERBATIM.search(child.data)
                if match:
                    line = child.lineno + child.data[: match.start()].count("\n")
                    yield LintIssue(
                        at,
                        line,
                        "dead-output",
                        f"'{match.group(0)}' is printed verbatim to the customer "
                        "(broken or escaped template syntax)",
                    )
            elif _can_print_nothing(child):
                yield LintIssue(
                    at,
                    child.lineno,
                    "dead-output",
                    "{{ }} can print nothing here (empty default); put the words "
                    "around it inside {% if %} instead",
                )


def _can_print_nothing(expr: nodes.Node) -> bool:
    if isinstance(expr, nodes.Const):
        return expr.value is None or expr.value == ""
    if isinstance(expr, nodes.Or):
        return _can_print_nothing(expr.right)
    if isinstance(expr, nodes.CondExpr):
        return _can_print_nothing(expr.expr1) or (
            expr.expr2 is None or _can_print_nothing(expr.expr2)
        )
    if isinstance(expr, nodes.Filter) and expr.name in ("default", "d"):
        return bool(expr.args) and _can_print_nothing(expr.args[0])
    return False


# ------------------------------------------------------------- per-guide checks


def _guide(
    manifest: Manifest,
    guide: Guide,
    sources: dict[str, TemplateSource],
    subjects: Sequence[dict[str, Any]],
) -> Iterator[LintIssue]:
    default = manifest.default_locale
    base = sources.get(guide.template_name(default))
    for locale in guide.locales:
        name = guide.template_name(locale)
        if not (manifest.root / name).is_file():
            yield LintIssue(
                display_path(manifest.path),
                manifest.guide_lines.get(guide.id, 1),
                "missing-locale",
                f"guide '{guide.id}' lists locale '{locale}' but "
                f"{display_path(manifest.root / name)} does not exist",
            )
            continue
        source = sources.get(name)
        if source is None:
            continue  # its syntax error is already reported
        yield from _structure(guide, source, base if locale != default else None)
        if base is None and locale != default:
            continue  # cannot render without the fallback template
        yield from _renders(manifest, guide, locale, subjects)


def _renders(
    manifest: Manifest, guide: Guide, locale: str, subjects: Sequence[dict[str, Any]]
) -> Iterator[LintIssue]:
    """Render one guide and locale for every tier and example subject.

    A template that ran out of time is reported once and not rendered again in
    this lint run (each further render would cost the whole time limit).
    """
    seen: set[tuple[str, str, str]] = set()  # (file, block, html) already checked
    reported: set[tuple[str, int, str]] = set()  # (file, line, rule) of punctuation found
    for tier in guide.tiers:
        for subject in subjects:
            context = {**subject, "tier": tier} if tier else dict(subject)
            try:
                raw = render_raw(manifest, guide.id, locale, context)
                yield from _rendered(manifest, raw, seen, reported)
            except TemplateError as err:
                yield _issue(err)
                if err.rule == "timeout":
                    return


def _structure(
    guide: Guide, source: TemplateSource, base: TemplateSource | None
) -> Iterator[LintIssue]:
    at, blocks = source.display, source.block_lines
    if base is not None:
        for block in base.block_lines:
            if block not in blocks:
                yield LintIssue(
                    at,
                    1,
                    "missing-translation",
                    f"block '{block}' is not translated (English is shown instead)",
                )
    present = set(blocks) | (set(base.block_lines) if base else set())
    required = ["title", "step_1_body"] + (["subject"] if guide.pendo_type == "email" else [])
    for block in required:
        if block not in present:
            yield LintIssue(at, 1, "structure", f"missing block '{block}'")
    for block, line in blocks.items():
        if guide.pendo_type != "email" and block in EMAIL_ONLY_BLOCKS:
            yield LintIssue(
                at,
                line,
                "structure",
                f"block '{block}' only applies to email guides ({guide.pendo_type})",
            )
        match = BLOCK_NAME.match(block)
        if match and match.group(1) and f"step_{match.group(1)}_body" not in present:
            yield LintIssue(at, line, "structure", f"'{block}' has no step_{match.group(1)}_body")
    steps = sorted({int(m.group(1)) for b in present if (m := BLOCK_NAME.match(b)) and m.group(1)})
    if steps and steps != list(range(1, steps[-1] + 1)):
        yield LintIssue(at, 1, "structure", f"steps must be numbered 1..N without gaps: {steps}")


def _rendered(
    manifest: Manifest,
    raw: RawGuide,
    seen: set[tuple[str, str, str]],
    reported: set[tuple[str, int, str]],
) -> Iterator[LintIssue]:
    guide, limits = raw.guide, manifest.limits_for(raw.guide.pendo_type)
    kind = guide.pendo_type
    for name, block in raw.blocks.items():
        src = block.source
        if (src.name, name, block.html) in seen:
            continue
        seen.add((src.name, name, block.html))
        yield from _html_checks(src, name, block.html)
        yield from _punctuation(src, name, block.html, block.locale, reported)
        if name in ("title", "subject", "preheader") or name.endswith("_title"):
            tags = [t for t, _ in htmltools.scan(block.html).tags]
            if tags:
                yield LintIssue(
                    src.display,
                    src.line_of(name, f"<{tags[0]}"),
                    "structure",
                    f"'{name}' is plain text; <{tags[0]}> would be dropped",
                )
        if name.endswith("_buttons"):
            scan = htmltools.scan(block.html)
            if scan.stray_text:
                yield LintIssue(
                    src.display,
                    src.line_of(name, scan.stray_text[0][:20]),
                    "structure",
                    f"only <a href> links belong in '{name}'; found text "
                    f"'{scan.stray_text[0][:40]}'",
                )
    rendered = assemble(manifest, raw)
    yield from _limit(raw, "title", rendered.title, limits.title, "title-length", f"{kind} title")
    if rendered.subject is not None:
        yield from _limit(
            raw, "subject", rendered.subject, limits.subject, "title-length", "email subject"
        )
    numbers = raw.step_numbers
    low, high = limits.steps
    if len(numbers) > high:
        extra = f"step_{numbers[high]}_body"
        yield _at(
            raw, extra, "too-many-steps", f"{len(numbers)} steps; a {kind} allows at most {high}"
        )
    elif len(numbers) < low:
        yield _at(
            raw,
            "title",
            "structure",
            f"{plural(len(numbers), 'step')}; a {kind} needs {low} to {high}",
        )
    for number, step in zip(numbers, rendered.steps, strict=True):
        yield from _limit(
            raw,
            f"step_{number}_title",
            step.title,
            limits.step_title,
            "step-length",
            f"step {number} title",
        )
        yield from _limit(
            raw,
            f"step_{number}_body",
            htmltools.plain_text(step.body_html),
            limits.body,
            "step-length",
            f"step {number} body",
        )
        for button in step.buttons:
            yield from _limit(
                raw,
                f"step_{number}_buttons",
                button.label,
                limits.button,
                "step-length",
                f"button '{button.label}'",
                needle=button.label,
            )
    if rendered.html:
        layout = load_source(manifest.root, EMAIL_LAYOUT)
        yield from _document_checks(layout, rendered.html)


def _at(raw: RawGuide, block: str, rule: str, message: str, needle: str | None = None) -> LintIssue:
    found = raw.blocks.get(block)
    source = found.source if found else next(iter(raw.blocks.values())).source
    return LintIssue(source.display, source.line_of(block, needle), rule, message)


def _limit(
    raw: RawGuide,
    block: str,
    text: str,
    limit: int,
    rule: str,
    what: str,
    needle: str | None = None,
) -> Iterable[LintIssue]:
    width = display_width(text)
    if width > limit:
        shown = text if len(text) <= 40 else text[:39] + "…"
        yield _at(
            raw,
            block,
            rule,
            f"{what} is {width} columns, limit {limit}: '{shown}'",
            needle or text[:16],
        )


def _html_checks(src: TemplateSource, block: str, html: str) -> Iterator[LintIssue]:
    for needle, message in htmltools.balance_problems(html):
        yield LintIssue(
            src.display, src.line_of(block, needle), "unbalanced-html", f"{message} in '{block}'"
        )
    for needle, message in htmltools.unsafe_problems(html):
        yield LintIssue(src.display, src.line_of(block, needle), "unsafe-html", message)
    for label, href in htmltools.links(html):
        if not href.lower().startswith("https://"):
            yield LintIssue(
                src.display,
                src.line_of(block, href or "<a"),
                "https-link",
                f"link '{label}' goes to '{href or '(empty)'}'; use https://",
            )


def _punctuation(
    src: TemplateSource, block: str, html: str, locale: str, reported: set[tuple[str, int, str]]
) -> Iterator[LintIssue]:
    """What a reader would see: one issue per rule and template line (the first subject's)."""
    for problem in punctuation.problems(punctuation.block_text(html), locale):
        line = _line_with(src, block, problem.needles)
        if (src.display, line, problem.rule) in reported:
            continue
        reported.add((src.display, line, problem.rule))
        yield LintIssue(src.display, line, problem.rule, problem.message(block))


def _line_with(src: TemplateSource, block: str, needles: Sequence[str]) -> int:
    """The first line of ``block`` holding one of ``needles`` (tried in order), else its start."""
    start = src.block_lines.get(block, 1)
    lines = src.text.splitlines()
    end = min(src.block_ends.get(block, start), len(lines))
    for needle in needles:
        for number in range(start, end + 1):
            if needle.lower() in lines[number - 1].lower():
                return number
    return start


def _document_checks(layout: TemplateSource, html: str) -> Iterator[LintIssue]:
    """The email shell is ours, not sanitised: check only what must never be in it."""
    scan = htmltools.scan(html)
    for tag, attrs in scan.tags:
        if tag in ("script", "iframe", "object", "embed"):
            yield LintIssue(
                layout.display,
                _find(layout, f"<{tag}"),
                "unsafe-html",
                f"<{tag}> in the email layout",
            )
        for key, value in attrs:
            if key.startswith("on"):
                yield LintIssue(
                    layout.display,
                    _find(layout, key),
                    "unsafe-html",
                    f"inline event handler {key}= in the email layout",
                )
            if key in ("href", "src") and not value.lower().startswith("https://"):
                yield LintIssue(
                    layout.display,
                    _find(layout, value or key),
                    "https-link",
                    f"{key}='{value}' in the email layout; use https://",
                )


def _find(source: TemplateSource, needle: str) -> int:
    for number, line in enumerate(source.text.splitlines(), 1):
        if needle.lower() in line.lower():
            return number
    return 1


#: Used when there is no preview_subjects.yaml: every optional value empty.
_EMPTY_SUBJECT: dict[str, Any] = {
    "visitor": {"visitor_id": "v-1"},
    "account": {"account_id": "a-1"},
    "tier": None,
    "health": None,
    "years": 1,
    "days_since_last_visit": None,
}
