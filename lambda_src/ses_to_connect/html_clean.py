"""An HTML body as the agent may safely see it: what presents is kept, what acts or misleads is removed.

Parsed as a browser parses it and cleaned against an allow-list by ``justhtml`` (pure Python,
HTML5-conformant parsing, a sanitizer built for untrusted HTML). Kept: text, tables, lists,
links (http, https, mailto, tel), images (http, https, data), inline styles (presentation
properties only, no ``url()``) and the old presentational attributes email still uses (``bgcolor``,
``align``, ``<font>``). Removed: scripts and their text, ``<style>`` and ``<title>`` text, event
handlers, ``javascript:`` and every other scheme, ``<base>``, ``<meta>`` (refresh, and charset
declarations that contradict the Unicode body), forms and their controls, frames, objects,
embeds, SVG and MathML, comments, ``id``/``name``/``class``. An unknown element is unwrapped:
its text stays. A ``<style>`` sheet is dropped rather than cleaned (the library cleans inline
styles only): the content stays, some of its layout goes.

Each image the body shows by ``cid:`` (a part of the message, which Connect's viewer cannot
resolve) becomes a short visible text saying what it was and where it went
(:meth:`ses_to_connect.notices._Outcomes.label`).

The library is imported on the first HTML body only (about 0.1 s of CPU), never at cold start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from justhtml import SanitizationPolicy

# Tags and attributes of presentation: what mail clients render, nothing that runs or submits.
# fmt: off
_TAGS = (
    "html", "head", "body", "a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "big",
    "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "details",
    "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q", "s",
    "samp", "section", "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
)
_ATTRIBUTES = {
    # Not id, name or class: without the sender's style sheet they present nothing, and in the page
    # that shows the body they could stand for that page's own elements (DOM clobbering).
    "*": ("style", "title", "lang", "dir", "align", "valign", "width", "height", "bgcolor", "color",
          "border"),
    "body": ("text", "link", "vlink", "alink"),
    "a": ("href",),
    "br": ("clear",),
    "img": ("src", "alt", "hspace", "vspace"),
    "table": ("cellpadding", "cellspacing", "summary", "background"),
    "td": ("colspan", "rowspan", "nowrap"),
    "th": ("colspan", "rowspan", "nowrap", "scope"),
    "col": ("span",),
    "colgroup": ("span",),
    "font": ("face", "size"),
    "ol": ("start", "type", "reversed"),
    "ul": ("type",),
    "li": ("value", "type"),
    "time": ("datetime",),
}
# Properties of layout and type; none can run code, and url() values (remote loads) are refused.
_CSS = (
    "background-color", "border", "border-bottom", "border-bottom-color", "border-bottom-style",
    "border-bottom-width", "border-collapse", "border-color", "border-left", "border-left-color",
    "border-left-style", "border-left-width", "border-radius", "border-right", "border-right-color",
    "border-right-style", "border-right-width", "border-spacing", "border-style", "border-top",
    "border-top-color", "border-top-style", "border-top-width", "border-width", "caption-side", "clear",
    "color", "direction", "display", "empty-cells", "float", "font", "font-family", "font-size", "font-style",
    "font-variant", "font-weight", "height", "letter-spacing", "line-height", "list-style",
    "list-style-position", "list-style-type", "margin", "margin-bottom", "margin-left", "margin-right",
    "margin-top", "max-height", "max-width", "min-height", "min-width", "overflow", "padding",
    "padding-bottom", "padding-left", "padding-right", "padding-top", "table-layout", "text-align",
    "text-decoration", "text-indent", "text-transform", "unicode-bidi", "vertical-align", "white-space",
    "width", "word-break", "word-spacing", "word-wrap",
)
# Elements whose text goes with them: a browser runs it, hides it or shows it only inside a control.
_DROPPED_WITH_TEXT = (
    "script", "style", "title", "noscript", "template", "iframe", "object", "embed", "textarea", "select",
    "svg", "math", "noembed", "noframes", "xmp",
)
# fmt: on

ImageLabel = Callable[[str, str], str]  # (content id, alt text) -> the text shown instead; "": nothing


@cache
def _policy() -> SanitizationPolicy:
    from justhtml import SanitizationPolicy, UrlPolicy, UrlRule  # noqa: PLC0415 (HTML bodies only)

    # No relative URLs: an email has no base to resolve them against, and in the viewer they would
    # point at the agent application's own paths (an <img src="/logout"> is a request made as the agent).
    links = UrlRule(
        allowed_schemes=["http", "https", "mailto", "tel"], handling="allow", allow_relative=False
    )
    images = UrlRule(allowed_schemes=["http", "https", "data"], handling="allow", allow_relative=False)
    return SanitizationPolicy(
        allowed_tags=_TAGS,
        allowed_attributes=_ATTRIBUTES,
        url_policy=UrlPolicy(
            default_handling="strip",
            default_allow_relative=False,
            allow_rules={("a", "href"): links, ("img", "src"): images, ("table", "background"): images},
        ),
        drop_content_tags=_DROPPED_WITH_TEXT,
        allowed_css_properties=_CSS,
        drop_doctype=False,
        strip_invisible_unicode=False,  # the text as written (zero-width joiners in emoji and scripts)
    )


def clean_html(markup: str, label: ImageLabel) -> str:
    """``markup`` with what acts or misleads removed and each ``cid:`` image replaced by its label."""
    from justhtml import Edit, JustHTML, Text  # noqa: PLC0415 (HTML bodies only)

    def replace_cid_image(node: Any) -> None:
        attrs: Mapping[str, str | None] = node.attrs
        source = (attrs.get("src") or "").strip()
        if source[:4].lower() != "cid:" or node.parent is None:
            return
        text = label(source[4:].strip("<> "), (attrs.get("alt") or "").strip())
        if text:
            node.parent.replace_child(Text(text), node)
        else:
            node.parent.remove_child(node)

    # A fragment (most mailers' HTML, and text parts joined into an HTML body) stays one: the parser
    # would wrap it in <html><head></head><body>, which the sender did not write.
    lowered = markup[:4096].lower()
    fragment = "<html" not in lowered and "<body" not in lowered and "<head" not in lowered
    document = JustHTML(
        markup, policy=_policy(), fragment=fragment, transforms=[Edit("img", replace_cid_image)]
    )
    return str(document.to_html(pretty=False))
