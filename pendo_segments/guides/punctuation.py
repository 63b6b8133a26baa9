"""Punctuation a reader sees in rendered copy: what only shows once names are filled in.

A template that writes ``{{ account.name }}.`` is right for "Northwind Health"
and wrong for "Keystone Travel, Inc." ("Inc.."); a line break in the source
becomes a space between two Japanese sentences. These checks run on the
*rendered* text of a block (tags removed, no link URLs), one line at a time
for spacing and doubling and over the whole block for pairs, and return what
they found with a snippet of the text around it. ``lint`` turns each into an
issue at the block's ``FILE:LINE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pendo_segments.guides import htmltools

#: rule → what it catches (merged into ``lint.RULES``)
RULES: dict[str, str] = {
    "doubled-punctuation": "'..' (not an ellipsis), ',,', '!!', '。。', ',.' … in the rendered "
    "text, e.g. a name ending in 'Inc.' followed by the template's own period",
    "stray-space": "a space before . , ; : ! ? (or before 。、！？ in Japanese), or after 。、 "
    "between Japanese sentences, in the rendered text",
    "unbalanced-quotes": 'a quote opened and never closed (or closing nothing): “” ‘’ 「」 『』 "',
    "unbalanced-brackets": "a bracket opened and never closed (or closing nothing): () [] （） 【】",
}

_SNIPPET = 24  # characters of context shown on each side

# Two marks in a row that never belong together. An ellipsis ("...", "…") is
# fine, and so is an abbreviation's period before other punctuation ("Inc.,",
# "Inc.!", "Ltd.)"), as English style guides keep it.
_DOUBLED = re.compile(
    r"(?<!\.)\.\.(?!\.)"  # two periods, not three
    r"|([,;:!?、。，！？])\1"  # the same mark twice: ",,", "!!", "。。"
    r"|[,;:][.。]|[!?][.。]"  # ",." "!." — a comma or an ending, then a period
    r"|[、。][、。]"  # "、。" "。、"
)
# A space before a mark that attaches to the word before it. The mark must
# not start a word (".NET", ".csv") or a number (".5").
_SPACE_BEFORE = re.compile(r"(?<=\S)[ \t\u3000]+([.,;:!?])(?![\w])")
_SPACE_BEFORE_CJK = re.compile(r"(?<=\S)[ \t\u3000]+([。、，．！？）」』】])")
# Japanese: a source line break between two sentences shows as a space.
_SPACE_AFTER_CJK = re.compile(r"([。、])[ \t\u3000]+(?=\S)")
#: Languages that put a (thin) space before ; : ! ? by rule.
_SPACED_LANGUAGES = frozenset({"fr"})
_CJK_LANGUAGES = frozenset({"ja", "zh"})

_PAIRS = {"“": "”", "‘": "’", "「": "」", "『": "』", "(": ")", "[": "]", "（": "）", "【": "】"}
_CLOSERS = {close: open_ for open_, close in _PAIRS.items()}
_QUOTES = frozenset('“”‘’「」『』"')
# "1) first" / "a) second": an enumerator, not a bracket that closes nothing.
_ENUMERATOR = re.compile(r"(?:^|\s)[0-9a-zA-Z]\)")


@dataclass(frozen=True)
class Problem:
    rule: str
    what: str  # "'..'", "space before ','", "'「' is never closed"
    snippet: str  # the text around the problem, "…" where it was cut
    needles: tuple[str, ...]  # literal text around it, to find its line in the template
    hint: str = ""

    def message(self, block: str) -> str:
        return f"{self.what} in '{block}': \"{self.snippet}\"" + (
            f" ({self.hint})" if self.hint else ""
        )


def block_text(html: str) -> str:
    """The visible text of a rendered block: one line per paragraph or list item, no URLs.

    A line break in the HTML source is a space on the page (between two Japanese
    sentences too), so only block tags start a new line here.
    """
    text = "".join(htmltools.scan(re.sub(r"[\r\n]+", " ", html)).text_parts)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def problems(text: str, locale: str) -> list[Problem]:
    """Every punctuation problem in ``text`` (see :data:`RULES`), in reading order per rule."""
    language = locale.split("-")[0].lower()
    found: list[Problem] = []
    for line in text.splitlines():
        found += _doubled(line)
        found += _spacing(line, language)
    found += _pairs(text)
    return found


def _doubled(line: str) -> list[Problem]:
    out = []
    for m in _DOUBLED.finditer(line):
        marks = m.group(0)
        hint = "a name that ends in '.' before the template's own '.'?" if marks == ".." else ""
        out.append(_problem("doubled-punctuation", f"'{marks}'", line, m.start(), m.end(), hint))
    return out


def _spacing(line: str, language: str) -> list[Problem]:
    out = []
    for m in _SPACE_BEFORE.finditer(line):
        mark = m.group(1)
        if language in _SPACED_LANGUAGES and mark in ";:!?":
            continue
        out.append(_problem("stray-space", f"space before '{mark}'", line, m.start(), m.end()))
    if language in _CJK_LANGUAGES:
        for m in _SPACE_BEFORE_CJK.finditer(line):
            out.append(
                _problem("stray-space", f"space before '{m.group(1)}'", line, m.start(), m.end())
            )
        for m in _SPACE_AFTER_CJK.finditer(line):
            out.append(
                _problem(
                    "stray-space",
                    f"space after '{m.group(1)}'",
                    line,
                    m.start(),
                    m.end(),
                    "a line break in the template? start the next tag with {%-",
                )
            )
    return out


def _pairs(text: str) -> list[Problem]:
    """Quotes and brackets that do not pair up: the first problem per rule."""
    stack: list[tuple[str, int]] = []
    straight: int | None = None  # position of an open '"'
    out: dict[str, Problem] = {}

    def report(mark: str, at: int, what: str) -> None:
        rule = "unbalanced-quotes" if mark in _QUOTES else "unbalanced-brackets"
        if rule not in out:
            out[rule] = _problem(rule, f"'{mark}' {what}", text, at, at + 1)

    for i, ch in enumerate(text):
        if ch == '"':
            straight = i if straight is None else None
        elif ch in _PAIRS:
            stack.append((ch, i))
        elif ch in _CLOSERS:
            want = _CLOSERS[ch]
            if stack and stack[-1][0] == want:
                stack.pop()
            elif ch == "’":
                continue  # an apostrophe ("Ada’s"), not a closing quote
            elif ch == ")" and _ENUMERATOR.match(text, max(0, i - 2)):
                continue
            elif stack:
                opened, at = stack[-1]
                report(opened, at, f"is closed by '{ch}'")
                stack.pop()
            else:
                report(ch, i, "closes nothing")
    for opened, at in stack:
        report(opened, at, "is never closed")
    if straight is not None:
        report('"', straight, "is never closed")
    return list(out.values())


def _problem(rule: str, what: str, text: str, start: int, end: int, hint: str = "") -> Problem:
    left = max(0, start - _SNIPPET)
    right = min(len(text), end + _SNIPPET)
    snippet = text[left:right].replace("\n", " ")
    snippet = ("…" if left else "") + snippet + ("…" if right < len(text) else "")
    needles = tuple(
        n.strip()
        for n in (
            text[end - 1 : end + 12],
            text[end - 1 : end + 6],
            text[start - 12 : start + 1] if start >= 12 else text[: start + 1],
            text[max(0, start - 6) : start + 1],
        )
        if len(n.strip()) >= 3 and "\n" not in n
    )
    return Problem(rule, what, snippet, needles, hint)
