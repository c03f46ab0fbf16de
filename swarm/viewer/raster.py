"""Batched rasterisation into a pygame pixel array: markers, rings, segments, points.

One ``pygame.draw.polygon`` call per drone costs a Python call each (about 4 ms per 1,000
drones, measured in experiments/bench_viewer.py), which caps a 10,000-drone frame near
25 frames/s before anything else is drawn. Here every drone is drawn by one numpy scatter
instead: a marker is a precomputed *stamp*, the pixel offsets it covers at each of
``N_ANGLES`` headings, and all drones are written at once with fancy indexing into
``pygame.surfarray.pixels2d`` (one mapped 32-bit int per pixel). Later rows overwrite
earlier ones, so the picture depends only on the state, never on timing.
"""

from __future__ import annotations

import functools

import numpy as np
import pygame

N_ANGLES = 64  # heading buckets of a marker stamp (5.6 degrees each)
MAX_SEGMENT_PX = 4096  # longest segment sampled (pixels); longer ones are clipped anyway


def map_colours(surface: pygame.Surface, rgb: np.ndarray) -> np.ndarray:
    """(N,) uint32 pixel values of ``rgb`` (N, 3) uint8 on a 32-bit ``surface``."""
    shifts = surface.get_shifts()
    rgb = np.asarray(rgb, np.uint32).reshape(-1, 3)
    out = (rgb[:, 0] << shifts[0]) | (rgb[:, 1] << shifts[1]) | (rgb[:, 2] << shifts[2])
    return out | np.uint32(surface.get_masks()[3])


@functools.lru_cache(maxsize=64)
def marker_stamp(shape: str, size_px: int) -> np.ndarray:
    """(N_ANGLES, K, 2) int pixel offsets (dx, dy) a marker of ``size_px`` covers per heading.

    Heading bucket b points along screen direction (cos a, -sin a), a = 2 pi b / N_ANGLES
    (screen y grows downwards, world y upwards). Rows are padded by repeating the centre
    pixel, which every marker covers, so all headings share one K and no mask is needed.
    """
    s = max(int(size_px), 3)
    half = s // 2 + 1
    grid = np.arange(-half, half + 1)
    dx, dy = (g.ravel() for g in np.meshgrid(grid, grid, indexing="ij"))
    angles = 2 * np.pi * np.arange(N_ANGLES) / N_ANGLES
    stamps = []
    for a in angles:
        # pixel centres in the marker's own frame: u forward, v to the left (screen y down)
        u = dx * np.cos(a) - dy * np.sin(a)
        v = -dx * np.sin(a) - dy * np.cos(a)
        if shape == "triangle":  # a dart: nose at +0.55 s, tail corners at (-0.45 s, +-0.35 s)
            nose, tail, wide = 0.55 * s, -0.45 * s, 0.35 * s
            inside = (u >= tail) & (u <= nose) & (np.abs(v) <= wide * (nose - u) / (nose - tail))
        elif shape == "square":
            inside = (np.abs(dx) <= 0.5 * s - 0.5) & (np.abs(dy) <= 0.5 * s - 0.5)
        else:  # circle
            inside = dx**2 + dy**2 <= (0.5 * s) ** 2
        inside |= (dx == 0) & (dy == 0)
        stamps.append(np.column_stack([dx[inside], dy[inside]]))
    k = max(len(st) for st in stamps)
    out = np.zeros((N_ANGLES, k, 2), np.int64)
    for b, st in enumerate(stamps):
        out[b, : len(st)] = st  # the padding stays (0, 0): the centre pixel again
    return out


@functools.lru_cache(maxsize=64)
def ring_stamp(radius_px: int) -> np.ndarray:
    """(K, 2) int pixel offsets of a one-pixel circle outline of ``radius_px``."""
    r = max(int(radius_px), 1)
    n = max(int(2 * np.pi * r * 1.5), 8)
    a = 2 * np.pi * np.arange(n) / n
    pts = np.round(np.column_stack([r * np.cos(a), r * np.sin(a)])).astype(np.int64)
    return np.unique(pts, axis=0)


def heading_bucket(heading: np.ndarray) -> np.ndarray:
    """(N,) stamp index of world headings (radians)."""
    b = np.round(np.asarray(heading) * (N_ANGLES / (2 * np.pi))).astype(np.int64)
    return np.mod(b, N_ANGLES)


def _flat(pixels: np.ndarray) -> np.ndarray | None:
    """A 1-D view of a (W, H) pixel array indexed by ``y * W + x``, or None if rows are
    padded (then the 2-D path is used)."""
    t = pixels.T
    return t.reshape(-1) if t.flags.c_contiguous else None


def scatter(pixels: np.ndarray, x: np.ndarray, y: np.ndarray, values: np.ndarray) -> None:
    """Write ``values`` at integer pixel coordinates, dropping those outside the array."""
    w, h = pixels.shape
    ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    vals = values[ok] if np.ndim(values) else values
    flat = _flat(pixels)
    if flat is None:
        pixels[x[ok], y[ok]] = vals
    else:
        flat[y[ok] * w + x[ok]] = vals


def stamp(
    pixels: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    table: np.ndarray,
    values: np.ndarray | int,
    which: np.ndarray | None = None,
) -> None:
    """Draw a stamp at every centre (cx, cy): ``table`` (K, 2) offsets shared by all, or
    (B, K, 2) stamps with ``which`` (N,) picking one per centre; ``values`` (N,) one pixel
    value per centre (or a scalar).

    Stamps lying wholly on screen (nearly all) are written through a flat view as
    ``centre + offset`` flat indices, with no per-pixel bounds test; only those crossing the
    edge take the clipped path.
    """
    w, h = pixels.shape
    if table.ndim == 2:
        table, which = table[None], np.zeros(len(cx), np.int64)
    values = np.broadcast_to(np.asarray(values, np.uint32), cx.shape)
    reach = int(np.abs(table).max()) if table.size else 0
    inside = (cx >= reach) & (cx < w - reach) & (cy >= reach) & (cy < h - reach)
    near = ~inside & (cx >= -reach) & (cx < w + reach) & (cy >= -reach) & (cy < h + reach)
    k = table.shape[1]
    flat = _flat(pixels)
    if flat is not None and inside.any():
        flat_table = table[..., 1] * w + table[..., 0]  # (B, K) offsets in the flat view
        centre = cy[inside] * w + cx[inside]
        flat[(centre[:, None] + flat_table[which[inside]]).ravel()] = np.repeat(values[inside], k)
    else:
        near |= inside
    if near.any():
        off = table[which[near]]
        x = (cx[near, None] + off[..., 0]).ravel()
        y = (cy[near, None] + off[..., 1]).ravel()
        scatter(pixels, x, y, np.repeat(values[near], k))


def segments(
    pixels: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    x1: np.ndarray,
    y1: np.ndarray,
    value: int | np.ndarray,
) -> None:
    """Draw one-pixel segments (x0, y0) -> (x1, y1) (screen floats), sampled once per pixel
    of length, all at once; ``value`` one pixel value for all, or (E,) one per segment."""
    w, h = pixels.shape
    # drop segments entirely off one side of the screen
    on = ~(
        ((x0 < 0) & (x1 < 0)) | ((x0 >= w) & (x1 >= w)) | ((y0 < 0) & (y1 < 0))
        | ((y0 >= h) & (y1 >= h))
    )  # fmt: skip
    x0, y0, x1, y1 = x0[on], y0[on], x1[on], y1[on]
    per_segment = np.ndim(value) > 0
    if per_segment:
        value = np.asarray(value, np.uint32)[on]
    if x0.size == 0:
        return
    length = np.maximum(np.abs(x1 - x0), np.abs(y1 - y0))
    n = np.minimum(np.ceil(length).astype(np.int64), MAX_SEGMENT_PX) + 1
    seg = np.repeat(np.arange(len(n)), n)
    start = np.cumsum(n) - n
    t = (np.arange(int(n.sum())) - start[seg]) / np.maximum(n - 1, 1)[seg]
    x = np.floor(x0[seg] + t * (x1 - x0)[seg]).astype(np.int64)
    y = np.floor(y0[seg] + t * (y1 - y0)[seg]).astype(np.int64)
    scatter(pixels, x, y, value[seg] if per_segment else np.uint32(value))
