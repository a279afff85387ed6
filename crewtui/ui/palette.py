"""Theme colours as Rich styles, for the text widgets build themselves (cells, Gantt, header).

CSS colours a widget, not the ``Text`` it renders: a style such as ``"bold green"`` stays
green whatever the theme, unreadable on a light one. A widget declares one component class
per colour name (``component_classes``, ``palette_css``) so each resolves through the
theme's variables, and ``palette_of`` reads them back as Rich styles. Pure render functions
take a ``Palette``; ``PLAIN`` (attributes only, no colour) is for tests and exports.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from rich.style import Style
from textual.widget import Widget

# Colour name -> the theme variable it follows.
VARIABLES: dict[str, str] = {
    "muted": "$text-muted",
    "accent": "$accent",
    "success": "$success",
    "warning": "$warning",
    "error": "$error",
    "secondary": "$secondary",
}


_UNCOLOURED = Style()
_DIM = Style(dim=True)


@dataclass(frozen=True)
class Palette:
    """One Rich style per colour name of the theme."""

    muted: Style = _DIM
    accent: Style = _UNCOLOURED
    success: Style = _UNCOLOURED
    warning: Style = _UNCOLOURED
    error: Style = _UNCOLOURED
    secondary: Style = _UNCOLOURED

    def __getitem__(self, name: str) -> Style:
        style: Style = getattr(self, name)
        return style


PLAIN = Palette()


def component_classes(prefix: str) -> set[str]:
    """The component classes a widget declares to resolve the palette (``prefix--name``)."""
    return {f"{prefix}--{name}" for name in VARIABLES}


def palette_css(selector: str, prefix: str) -> str:
    """CSS giving each component class its theme variable."""
    return "\n".join(
        f"{selector} > .{prefix}--{name} {{ color: {variable}; }}"
        for name, variable in VARIABLES.items()
    )


def palette_of(widget: Widget, prefix: str) -> Palette:
    """The widget's palette under the current theme (call again after a theme change)."""
    return Palette(
        **{
            field.name: widget.get_component_rich_style(f"{prefix}--{field.name}", partial=True)
            for field in fields(Palette)
        }
    )
