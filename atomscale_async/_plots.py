"""Quick-look matplotlib plots of the results (the ``plot`` extra), and their peak labels.

Importing this module needs neither numpy nor matplotlib: each function checks
for them (raising ``MissingExtraError``) and imports them when called.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ._optional import require

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ._frames import FloatMatrix, FloatVector
    from ._generated.models import DataEntry, DetectedPeak, OESResult, SIMSResult

__all__ = [
    "format_species",
    "format_unit",
    "mark_spectrum_peaks",
    "plot_oes",
    "plot_sims",
    "plot_title",
    "set_title",
]

_FORMULA = re.compile(r"(?:[A-Z][a-z]?\d*)+[+-]?")
_POWER = re.compile(r"\^\{?([+-]?\d+)\}?")
#: Factor from nm to a wavelength unit, for placing peaks given in nm.
_PER_NM = {
    "nm": 1.0,
    "Å": 10.0,
    "A": 10.0,
    "angstrom": 10.0,
    "um": 1e-3,
    "µm": 1e-3,
    "μm": 1e-3,
    "pm": 1e3,
}
_SIMS_SIZE = (7.5, 4.5)
_OES_SIZE = (10.0, 4.5)
_PAD_PX = 3.0
#: Size of a peak's marker, and its offset above the peak (points).
_MARKER_POINTS = 5.0
_MARKER_OFFSET_POINTS = 4.0
#: Points from a peak to the bottom of its label (clearing the marker).
_LABEL_POINTS = 10.0
_LABEL_SIZE = "small"
#: Labels lifted further than this get a leader line to their peak.
_LEADER_POINTS = 16.0
_MAX_ROUNDS = 6
#: Pixels of height a label must gain to move one pixel sideways off its peak.
_SHIFT_COST = 1.5
#: Peaks of one element closer than this many label widths share a label.
_GROUP_WIDTHS = 1.2
#: The colour of an XPS, XRD, photoluminescence or Raman peak's marker, label and leader.
_MARK_COLOR = "C3"
_TEXT_COLOR = "0.15"


def _escape(text: str) -> str:
    return text.replace("$", r"\$")


def format_unit(unit: str) -> str:
    """A unit for a matplotlib label, with powers as superscripts ("cm^-3" -> "cm$^{-3}$")."""
    return _POWER.sub(r"$^{\1}$", _escape(unit))


def format_species(name: str) -> str:
    """A chemical formula for a matplotlib label, with counts as subscripts ("N2" -> "N$_{2}$")."""
    if not _FORMULA.fullmatch(name):
        return _escape(name)
    return re.sub(r"(?<=[A-Za-z])(\d+)", r"$_{\1}$", name)


def _axis_label(quantity: str, units: set[str]) -> str:
    if len(units) == 1:
        return f"{quantity} ({format_unit(next(iter(units)))})"
    if units:
        return f"{quantity} ({', '.join(format_unit(u) for u in sorted(units))})"
    return quantity


def _new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, created = plt.subplots(figsize=size, layout="constrained")
    return created


def plot_title(
    technique: str, data_id: str, entry: DataEntry | None = None, sample: str | None = None
) -> str:
    """A plot's title: the technique, the sample (the entry's, else ``sample``) and the id.

    Raises:
        ValueError: ``entry`` is the catalogue entry of another data id.

    Example:
        >>> plot_title("XRD", "d1", sample="GaN-S-004")
        'XRD · GaN-S-004 · d1'
    """
    if entry is not None:
        if entry.data_id != data_id:
            raise ValueError(
                f"entry is the catalogue entry of {entry.data_id!r}, not of {data_id!r}"
            )
        physical, material = entry.physical_sample_name, entry.sample_name
        if physical and material and material != physical:
            sample = f"{physical} ({material})"
        else:
            sample = physical or material or sample
    return " · ".join(_escape(part) for part in (technique, sample, data_id) if part)


def set_title(ax: Axes, title: str) -> None:
    """Title the axes, unless they have a title; the id goes on a line of its own if too wide."""
    if ax.get_title():
        return
    text = ax.set_title(title, fontsize="medium")
    figure = _root_figure(ax)
    figure.draw_without_rendering()  # settle the layout: where the title is drawn
    box = text.get_window_extent()
    if box.x0 < figure.bbox.x0 + _PAD_PX or box.x1 > figure.bbox.x1 - _PAD_PX:
        head, sep, data_id = title.rpartition(" · ")
        if sep:
            text.set_text(f"{head}\n{data_id}")


def _root_figure(ax: Axes) -> Figure:
    from matplotlib.figure import Figure

    figure: object = ax.figure
    while not isinstance(figure, Figure):
        figure = getattr(figure, "figure", None)
        if figure is None:
            raise ValueError("the axes belong to no figure")
    return figure


def plot_sims(
    result: SIMSResult,
    ax: Axes | None = None,
    *,
    species: str | Iterable[str] | None = None,
    entry: DataEntry | None = None,
) -> Axes:
    """Draw ``result``'s depth profiles; see ``SIMSResult.plot()``."""
    require("SIMSResult.plot()", "plot", "matplotlib", "numpy")
    title = plot_title("SIMS depth profiles", result.data_id, entry)
    from ._frames import profile_to_numpy

    profiles = result.depth_profiles
    if species is not None:
        wanted = {species} if isinstance(species, str) else set(species)
        unknown = wanted - {p.species_name for p in profiles}
        if unknown:
            present = ", ".join(p.species_name for p in profiles) or "none"
            raise ValueError(
                f"no profile of {', '.join(sorted(unknown))} in {result.data_id} "
                f"(species: {present})"
            )
        profiles = [p for p in profiles if p.species_name in wanted]

    ax = _new_axes(ax, _SIMS_SIZE)
    concentration_units = {p.concentration_units for p in profiles}
    for profile in profiles:
        depths, concentrations = profile_to_numpy(profile)
        label = _escape(profile.species_name)
        if len(concentration_units) > 1:
            label += f" ({format_unit(profile.concentration_units)})"
        ax.plot(depths, concentrations, linewidth=1.5, label=label)
    ax.set_yscale("log", nonpositive="mask")
    ax.margins(x=0)
    ax.set_xlabel(_axis_label("Depth", {p.depth_units for p in profiles}))
    ax.set_ylabel(
        _axis_label(
            "Concentration", concentration_units if len(concentration_units) == 1 else set()
        )
    )
    ax.grid(visible=True, which="major", alpha=0.3)
    if profiles:
        ax.legend(loc="best", title="Species")
    else:
        ax.text(0.5, 0.5, "no depth profiles", transform=ax.transAxes, ha="center", va="center")
    set_title(ax, title)
    return ax


def plot_oes(
    result: OESResult,
    ax: Axes | None = None,
    *,
    peaks: bool = True,
    entry: DataEntry | None = None,
) -> Axes:
    """Draw ``result``'s scope-corrected spectrum and its peaks; see ``OESResult.plot()``."""
    require("OESResult.plot()", "plot", "matplotlib", "numpy")
    title = plot_title("OES spectrum", result.data_id, entry)
    import numpy as np

    from ._frames import oes_to_numpy

    wavelengths, intensities = oes_to_numpy(result)
    order = np.argsort(wavelengths, kind="stable")
    wavelengths, intensities = wavelengths[order], intensities[order]

    ax = _new_axes(ax, _OES_SIZE)
    ax.plot(wavelengths, intensities, color="0.25", linewidth=0.8)
    ax.margins(x=0)
    ax.set_xlabel(f"Wavelength ({format_unit(result.wavelength_unit)})")
    ax.set_ylabel("Scope-corrected intensity")
    ax.grid(visible=True, which="major", alpha=0.3)
    set_title(ax, title)
    if peaks and result.detected_peaks:
        per_nm = _PER_NM.get(result.wavelength_unit, 1.0)
        _mark_peaks(ax, wavelengths, intensities, result.detected_peaks, per_nm)
    return ax


def _peak_height(wavelengths: FloatVector, intensities: FloatVector, at: float) -> float:
    """The highest intensity within two points of ``at`` (0 when there is none)."""
    import numpy as np

    index = int(np.searchsorted(wavelengths, at))
    window = intensities[max(index - 2, 0) : index + 3]
    finite = window[np.isfinite(window)]
    return float(finite.max()) if finite.size else 0.0


def _mark_peaks(
    ax: Axes,
    wavelengths: FloatVector,
    intensities: FloatVector,
    peaks: Sequence[DetectedPeak],
    per_nm: float,
) -> None:
    """Mark each peak with a triangle, and label it with its element.

    Neighbouring peaks of one element too close for a label each share one
    label, with a leader line to each; labels are kept off the spectrum, off the
    markers and off each other (see ``_place_labels``).
    """
    import numpy as np
    from matplotlib.transforms import offset_copy

    if wavelengths.size:  # a peak off the spectrum's range would stretch the axes
        low, high = wavelengths[0] / per_nm, wavelengths[-1] / per_nm
        peaks = [p for p in peaks if low <= p.wavelength_nm <= high]
        if not peaks:
            return
    elements = list(dict.fromkeys(p.element for p in peaks))
    colors = {element: f"C{i % 10}" for i, element in enumerate(elements)}
    ordered = sorted(peaks, key=lambda p: p.wavelength_nm)
    xs = np.array([p.wavelength_nm * per_nm for p in ordered])
    ys = np.array([_peak_height(wavelengths, intensities, x) for x in xs])

    figure = _root_figure(ax)
    above = offset_copy(ax.transData, fig=figure, y=_MARKER_OFFSET_POINTS, units="points")
    for element in elements:
        mask = np.array([p.element == element for p in ordered])
        ax.plot(
            xs[mask],
            ys[mask],
            linestyle="none",
            marker="v",
            markersize=_MARKER_POINTS,
            color=colors[element],
            transform=above,
        )

    figure.draw_without_rendering()  # settle the layout, so pixel sizes are final
    groups = _group_peaks(ax, [p.element for p in ordered], xs)
    # A label goes above the middle of its group, at the height of its highest peak.
    anchors = np.array(
        [((xs[group[0]] + xs[group[-1]]) / 2, max(ys[i] for i in group)) for group in groups]
    )
    texts = [format_species(ordered[group[0]].element) for group in groups]
    sizes = [_label_extent(ax, text) for text in texts]
    offsets = _place_labels(
        ax, figure, sizes, anchors, np.column_stack([xs, ys]), wavelengths, intensities
    )
    px_per_point = figure.dpi / 72.0
    for group, text, anchor, (shift, lift) in zip(groups, texts, anchors, offsets, strict=True):
        color = colors[ordered[group[0]].element]
        leader = {
            "arrowstyle": "-",
            "color": color,
            "linewidth": 0.7,
            "linestyle": ":",
            "shrinkA": 1,
            "shrinkB": _MARKER_OFFSET_POINTS + _MARKER_POINTS,
        }
        single = len(group) == 1
        label = ax.annotate(
            text,
            xy=(anchor[0], anchor[1]),
            xytext=(shift, lift),
            textcoords="offset points",
            color=color,
            fontsize=_LABEL_SIZE,
            fontweight="bold",
            ha="center",
            va="bottom",
            arrowprops=leader if single and (shift or lift > _LEADER_POINTS) else None,
        )
        if single:
            continue
        # A leader from the shared label down to each peak it is far enough from,
        # unless the peak's marker hides under the tallest one's.
        bottom = ax.transData.transform(anchor)[1] + lift * px_per_point
        tallest = max(group, key=lambda i: ys[i])
        tallest_x = ax.transData.transform((xs[tallest], ys[tallest]))[0]
        for i in group:
            x_px, y_px = ax.transData.transform((xs[i], ys[i]))
            hidden = i != tallest and abs(x_px - tallest_x) < _MARKER_POINTS * px_per_point
            if not hidden and (bottom - y_px) / px_per_point > _LEADER_POINTS:
                ax.annotate(
                    "",
                    xy=(xs[i], ys[i]),
                    xytext=(0.5, 0.0),
                    textcoords=label,
                    arrowprops=leader,
                )


def mark_spectrum_peaks(
    ax: Axes,
    axis: FloatVector,
    intensities: FloatVector,
    marks: Sequence[tuple[float, str]],
) -> None:
    """Mark each peak ``(position, label)`` with a triangle above it, and label it.

    Labels are kept inside the axes (the y range grows to fit them), off the spectrum,
    off the markers and off each other, staggered with a leader line to their peak
    when neighbours would collide (see ``_place_labels``). A peak off the axis's
    range, or at a position that is not finite, is left out.
    """
    import numpy as np
    from matplotlib.transforms import offset_copy

    order = np.argsort(axis, kind="stable")
    axis, intensities = axis[order], intensities[order]
    finite = axis[np.isfinite(axis)]
    if not finite.size:
        return
    low, high = float(finite.min()), float(finite.max())
    shown = sorted((at, label) for at, label in marks if math.isfinite(at) and low <= at <= high)
    if not shown:
        return
    xs = np.array([at for at, _ in shown])
    ys = np.array([_peak_height(axis, intensities, at) for at in xs])
    figure = _root_figure(ax)
    above = offset_copy(ax.transData, fig=figure, y=_MARKER_OFFSET_POINTS, units="points")
    ax.plot(
        xs,
        ys,
        linestyle="none",
        marker="v",
        markersize=_MARKER_POINTS,
        color=_MARK_COLOR,
        transform=above,
    )
    labelled = [i for i, (_, label) in enumerate(shown) if label]
    if not labelled:
        return
    figure.draw_without_rendering()  # settle the layout, so pixel sizes are final
    texts = [_escape(shown[i][1]) for i in labelled]
    sizes = [_label_extent(ax, text, weight="normal") for text in texts]
    anchors = np.column_stack([xs[labelled], ys[labelled]])
    offsets = _place_labels(
        ax, figure, sizes, anchors, np.column_stack([xs, ys]), axis, intensities
    )
    leader = {
        "arrowstyle": "-",
        "color": _MARK_COLOR,
        "linewidth": 0.7,
        "linestyle": ":",
        "shrinkA": 1,
        "shrinkB": _MARKER_OFFSET_POINTS + _MARKER_POINTS,
    }
    for text, (x, y), (shift, lift) in zip(texts, anchors, offsets, strict=True):
        ax.annotate(
            text,
            xy=(x, y),
            xytext=(shift, lift),
            textcoords="offset points",
            color=_TEXT_COLOR,
            fontsize=_LABEL_SIZE,
            ha="center",
            va="bottom",
            arrowprops=leader if shift or lift > _LEADER_POINTS else None,
        )


def _label_extent(ax: Axes, text: str, weight: str = "bold") -> tuple[float, float]:
    """Width and height in pixels of a peak label."""
    probe = ax.text(0, 0, text, fontsize=_LABEL_SIZE, fontweight=weight, transform=None)
    extent = probe.get_window_extent()
    probe.remove()
    return extent.width, extent.height


def _group_peaks(ax: Axes, elements: Sequence[str], xs: FloatVector) -> list[list[int]]:
    """Group the peaks (sorted by wavelength) that share a label.

    A group is a run of peaks of one element, each closer to the previous one
    than about a label's width: their labels would crowd each other.
    """
    import numpy as np

    x_px = ax.transData.transform(np.column_stack([xs, np.zeros_like(xs)]))[:, 0]
    groups: list[list[int]] = []
    for i, element in enumerate(elements):
        if groups and elements[groups[-1][-1]] == element:
            width = _label_extent(ax, format_species(element))[0]
            if x_px[i] - x_px[groups[-1][-1]] < _GROUP_WIDTHS * width:
                groups[-1].append(i)
                continue
        groups.append([i])
    return groups


_Box = tuple[float, float, float, float]
"""A box in pixels: (left, right, bottom, top)."""
_Segment = tuple[float, float, float, float]
"""A line in pixels: (x0, y0, x1, y1)."""
#: What a label placed across a leader line costs, in pixels of height.
_CROSSING_COST = 1e6


def _leader(
    peak: tuple[float, float], shift: float, bottom: float, scale: float
) -> _Segment | None:
    """The leader line of a label at ``shift`` and ``bottom`` from its peak, if it has one.

    ``scale`` is pixels per point; the line starts above the peak's marker.
    """
    x, y = peak
    if not shift and (bottom - y) / scale <= _LEADER_POINTS:
        return None
    return (x, y + (_MARKER_OFFSET_POINTS + _MARKER_POINTS) * scale, x + shift, bottom)


def _crosses(segment: _Segment, boxes: Sequence[_Box]) -> bool:
    """Whether the segment runs through one of the boxes (its ends excepted)."""
    x0, y0, x1, y1 = segment
    for step in range(1, 24):
        t = step / 24
        x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        if any(left < x < right and low < y < high for left, right, low, high in boxes):
            return True
    return False


def _lowest_clear(
    curve: FloatMatrix,
    placed: Sequence[_Box],
    span: tuple[float, float],
    start: float,
    height: float,
) -> float:
    """The lowest bottom, from ``start`` up, of a box over ``span`` clear of the curve and boxes."""
    left, right = span
    bottom = start
    under = curve[(curve[:, 0] >= left) & (curve[:, 0] <= right), 1]
    if under.size:
        bottom = max(bottom, float(under.max()) + _PAD_PX)
    for _ in range(len(placed) + 1):
        clash = [
            top
            for (x0, x1, y0, top) in placed
            if x1 > left and x0 < right and top > bottom and y0 < bottom + height
        ]
        if not clash:
            break
        bottom = max(clash) + 1
    return bottom


def _place_labels(
    ax: Axes,
    figure: Figure,
    sizes: Sequence[tuple[float, float]],
    anchors: FloatMatrix,
    peaks: FloatMatrix,
    wavelengths: FloatVector,
    intensities: FloatVector,
) -> list[tuple[float, float]]:
    """Where to put each label, as an offset in points from its anchor.

    Labels (of ``sizes``, in pixels) are placed in the order given. Each goes to
    the lowest spot above its anchor (or beside it, up to a label's width away, if
    that is much lower) that clears the spectrum under it, the peak markers and the
    labels already placed, and lies within the axes' left and right edges. The y
    range grows, on any scale, until the highest label fits in the axes.
    """
    import numpy as np

    px_per_point = figure.dpi / 72.0
    finite = np.isfinite(intensities)
    curve_data = np.column_stack([wavelengths[finite], intensities[finite]])
    marker_half = _MARKER_POINTS / 2 * px_per_point
    marker_top = (_MARKER_OFFSET_POINTS + 2) * px_per_point + marker_half
    offsets: list[tuple[float, float]] = []
    for _ in range(_MAX_ROUNDS):
        to_px = ax.transData.transform
        curve = to_px(curve_data)
        # Boxes to keep clear of, as (left, right, bottom, top) pixels: markers, then labels.
        placed: list[_Box] = [
            (x - marker_half, x + marker_half, y, y + marker_top) for x, y in to_px(peaks)
        ]
        offsets = []
        labels: list[_Box] = []
        leaders: list[_Segment] = []
        for (width, height), (x_px, y_px) in zip(sizes, to_px(anchors), strict=True):
            start = y_px + _LABEL_POINTS * px_per_point
            candidates = []  # (score, shift, bottom)
            # Centres that keep the label inside the frame, clear of its edges.
            lowest = ax.bbox.x0 + _PAD_PX + width / 2 + 1
            highest_x = max(ax.bbox.x1 - _PAD_PX - width / 2 - 1, lowest)
            wanted = [0.0, 0.6 * width, -0.6 * width, 1.1 * width, -1.1 * width]
            # Or just beside a label already placed, when stacking over it would cross it.
            gap = 1.5 * height  # wide enough that two labels do not read as one
            for left, right, _, _ in labels:
                wanted += [left - width / 2 - gap - x_px, right + width / 2 + gap - x_px]
            inside = (min(max(x_px + s, lowest), highest_x) - x_px for s in wanted)
            for shift in dict.fromkeys(inside):
                left, right = x_px + shift - width / 2 - 1, x_px + shift + width / 2 + 1
                bottom = _lowest_clear(curve, placed, (left, right), start, height)
                score = bottom + _SHIFT_COST * abs(shift)
                # A leader line through a label, or a label over a leader, is hard to read.
                leader = _leader((x_px, y_px), shift, bottom, px_per_point)
                box = (left, right, bottom, bottom + height)
                if (leader and _crosses(leader, labels)) or any(
                    _crosses(other, [box]) for other in leaders
                ):
                    score += _CROSSING_COST
                candidates.append((score, shift, bottom))
            _, shift, bottom = min(candidates)
            left = x_px + shift - width / 2 - 1
            box = (left, left + width + 2, bottom, bottom + height)
            placed.append(box)
            labels.append(box)
            leader = _leader((x_px, y_px), shift, bottom, px_per_point)
            if leader:
                leaders.append(leader)
            offsets.append((shift / px_per_point, (bottom - y_px) / px_per_point))
        highest = max(top for (_, _, _, top) in placed)
        if highest <= ax.bbox.y1 - _PAD_PX:
            break
        # The data value at the height the labels need, through the axis's scale (log too).
        fraction = (highest + 2 * _PAD_PX - ax.bbox.y0) / ax.bbox.height
        top = ax.transData.inverted().transform(ax.transAxes.transform((0.0, fraction)))[1]
        ax.set_ylim(ax.get_ylim()[0], float(top))
        figure.draw_without_rendering()
    return offsets
