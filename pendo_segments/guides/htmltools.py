"""Small HTML helpers for guide copy: sanitise (nh3), read links, check tags.

Guide bodies are fragments pasted into Pendo's text building blocks, so only
a short list of formatting tags is allowed. Everything rendered goes through
nh3 (the Rust ``ammonia`` sanitiser); lint compares the copy before and after
sanitising to tell the author what would have been removed.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "strong",
        "em",
        "b",
        "i",
        "u",
        "s",
        "small",
        "span",
        "ul",
        "ol",
        "li",
        "a",
        "h2",
        "h3",
        "h4",
        "blockquote",
        "hr",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "span": {"lang"}, "p": {"lang"}}
URL_SCHEMES = frozenset({"https"})
VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "source", "col"})
_BLOCK_TAGS = frozenset(
    {"p", "li", "h1", "h2", "h3", "h4", "ul", "ol", "blockquote", "hr", "div", "tr", "table"}
)


def sanitize(fragment: str) -> str:
    """Keep only the allowed tags / attributes and https links; drop script content."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


class _Scan(HTMLParser):
    """One pass over a fragment collecting what the checks below need."""

    def __init__(self, show_urls: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.show_urls = show_urls
        self.tags: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self.links: list[tuple[str, str]] = []  # (label, href)
        self.text_parts: list[str] = []
        self.stray_text: list[str] = []  # text outside any <a>
        self.problems: list[tuple[str, str]] = []  # (needle, message)
        self._stack: list[str] = []
        self._href: str | None = None
        self._label: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple((k, v or "") for k, v in attrs)))
        if tag == "li":
            self.text_parts.append("\n- ")
        elif tag in _BLOCK_TAGS:
            self.text_parts.append("\n\n")
        elif tag == "br":
            self.text_parts.append("\n")
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._label = []
        if tag not in VOID_TAGS:
            self._stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS and self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((_squash("".join(self._label)), self._href))
            if self.show_urls and self._href:
                self.text_parts.append(f" ({self._href})")
            self._href = None
        if tag in _BLOCK_TAGS and tag != "li":
            self.text_parts.append("\n\n")
        if tag in VOID_TAGS:
            return
        if not self._stack or tag not in self._stack:
            self.problems.append((f"</{tag}", f"</{tag}> closes a tag that is not open"))
            return
        while self._stack and self._stack[-1] != tag:
            inner = self._stack.pop()
            self.problems.append((f"<{inner}", f"<{inner}> is not closed before </{tag}>"))
        self._stack.pop()

    def handle_data(self, data: str) -> None:
        # source line breaks between tags are layout, not text
        self.text_parts.append(data if data.strip() else " ")
        if self._href is not None:
            self._label.append(data)
        elif data.strip():
            self.stray_text.append(data.strip())

    def finish(self) -> _Scan:
        self.close()
        for tag in reversed(self._stack):
            self.problems.append((f"<{tag}", f"<{tag}> is never closed"))
        self._stack.clear()
        return self


def scan(fragment: str, show_urls: bool = False) -> _Scan:
    parser = _Scan(show_urls)
    parser.feed(fragment)
    return parser.finish()


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def plain_text(fragment: str) -> str:
    """The visible text of a fragment on one line (for titles and length checks)."""
    return _squash("".join(scan(fragment).text_parts))


def html_to_text(fragment: str) -> str:
    """A readable plain-text version (emails): paragraphs, ``- `` bullets, ``label: url``."""
    text = "".join(scan(fragment, show_urls=True).text_parts)
    lines = "\n".join(_squash(line) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", lines).strip() + "\n"


def links(fragment: str) -> list[tuple[str, str]]:
    """``(label, href)`` of every ``<a>`` in order (labels as plain text)."""
    return scan(fragment).links


def balance_problems(fragment: str) -> list[tuple[str, str]]:
    """``(needle, message)`` for every unclosed / stray tag."""
    return scan(fragment).problems


def unsafe_problems(fragment: str) -> list[tuple[str, str]]:
    """What the sanitiser removes from ``fragment``, as ``(needle, message)``.

    Compares the tags and attributes before and after nh3, so the rule is
    exactly the sanitiser's policy, plus explicit words for the worst cases.
    """
    before = scan(fragment).tags
    after = scan(sanitize(fragment)).tags
    kept_tags = {t for t, _ in after}
    kept_attrs = {(t, k, v) for t, attrs in after for k, v in attrs}
    problems: list[tuple[str, str]] = []
    for tag, attrs in before:
        if tag not in kept_tags and tag not in ALLOWED_TAGS:
            why = (
                "scripts never run in guides"
                if tag in ("script", "iframe", "object", "embed")
                else f"allowed tags: {', '.join(sorted(ALLOWED_TAGS))}"
            )
            problems.append((f"<{tag}", f"<{tag}> is removed by the sanitiser ({why})"))
            continue
        for key, value in attrs:
            if (tag, key, value) in kept_attrs:
                continue
            if key.startswith("on"):
                msg = f"inline event handler {key}= on <{tag}> is not allowed"
            elif key == "href" and value.strip().lower().startswith(
                ("javascript:", "data:", "vbscript:")
            ):
                msg = f'<{tag} href="{value[:30]}"> is a script URL'
            elif key == "href":
                continue  # scheme problems are the https-link rule's job
            else:
                msg = f"attribute {key}= on <{tag}> is removed by the sanitiser"
            problems.append((key if key.startswith("on") else f"{key}=", msg))
    return list(dict.fromkeys(problems))


def escape(text: str) -> str:
    return html.escape(text, quote=True)
