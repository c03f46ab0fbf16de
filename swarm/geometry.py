"""Small planar Voronoi kernels for controllers that reason about cells (pursuit, evasion).

Everything is in the frame of one site ``a`` at the origin: the other sites are the relative
positions a drone senses, so a kernel reads a segment of the neighbour table directly. The
Voronoi cell of ``a`` is the intersection of the half-planes ``q . k <= |k|^2 / 2`` (nearer
``a`` than site ``k``), clipped to the arena and, for an exact answer under limited sensing,
to a disk of radius ``R / 2`` (any site that cuts the cell within ``R / 2`` of ``a`` lies
within ``R`` of it, so ``a`` senses it: the argument of ``policies/lloyd.py``).

Two shapes are needed, and neither needs a general Voronoi library (global, one Qhull call
per agent per step):

* the edge shared by ``a`` and one site ``b``: a line clipped to an interval, one linear
  constraint per other site, O(K) (:func:`bisector_edge`);
* the whole cell: a convex polygon clipped half-plane by half-plane (Sutherland–Hodgman),
  then its area and centroid by the shoelace formula (:func:`clip_halfplane`,
  :func:`area_centroid`, :func:`cell`).

A site at the origin itself (a coincident neighbour) gives the half-plane ``0 <= 0``, which
keeps everything: it neither cuts nor empties a cell.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def clip_line(mx, my, dx, dy, nx, ny, c, lo, hi):
    """The part ``[lo, hi]`` of the line ``m + t d`` inside the half-plane ``n . q <= c``.
    A constraint parallel to the line keeps all of it or nothing (then ``lo > hi``)."""
    slope = nx * dx + ny * dy
    room = c - (nx * mx + ny * my)
    if slope > 0.0:
        hi = min(hi, room / slope)
    elif slope < 0.0:
        lo = max(lo, room / slope)
    elif room < 0.0:
        lo, hi = np.inf, -np.inf
    return lo, hi


@numba.njit(cache=True)
def bisector_edge(bx, by, sites, start, stop, skip, xmin, ymin, xmax, ymax, radius):
    """The Voronoi edge shared by the origin ``a`` and the site ``b``.

    ``sites[start:stop]`` are the other sites relative to ``a`` (entry ``skip`` is ``b``
    itself and is passed over); the edge is also clipped to the box
    ``[xmin, xmax] x [ymin, ymax]`` (relative to ``a``) and to the disk of ``radius`` around
    ``a`` (``inf``: none). Returns ``(mx, my, dx, dy, lo, hi)``: the edge is
    ``m + t d, t in [lo, hi]`` with ``d`` a unit vector, so its midpoint is
    ``m + (lo + hi) / 2 d`` and its length ``hi - lo``; it is empty when ``lo >= hi``
    (also when ``b`` coincides with ``a``: no bisector).
    """
    norm = np.sqrt(bx * bx + by * by)
    mx = 0.5 * bx
    my = 0.5 * by
    if norm == 0.0:
        return mx, my, 0.0, 0.0, 0.0, 0.0
    dx = -by / norm
    dy = bx / norm
    lo = -np.inf
    hi = np.inf
    # the box: four walls
    lo, hi = clip_line(mx, my, dx, dy, -1.0, 0.0, -xmin, lo, hi)
    lo, hi = clip_line(mx, my, dx, dy, 1.0, 0.0, xmax, lo, hi)
    lo, hi = clip_line(mx, my, dx, dy, 0.0, -1.0, -ymin, lo, hi)
    lo, hi = clip_line(mx, my, dx, dy, 0.0, 1.0, ymax, lo, hi)
    # the disk around a: m is the foot of a on the bisector, so it cuts t to [-s, s]
    if radius < np.inf:
        s2 = radius * radius - 0.25 * norm * norm
        if s2 <= 0.0:
            return mx, my, dx, dy, 0.0, 0.0
        s = np.sqrt(s2)
        lo = max(lo, -s)
        hi = min(hi, s)
    # every other site k: q nearer a (hence b) than k
    for e in range(start, stop):
        if lo >= hi:
            break
        if e == skip:
            continue
        kx = sites[e, 0]
        ky = sites[e, 1]
        lo, hi = clip_line(mx, my, dx, dy, kx, ky, 0.5 * (kx * kx + ky * ky), lo, hi)
    return mx, my, dx, dy, lo, hi


@numba.njit(cache=True)
def clip_halfplane(xs, ys, n, nx, ny, c, out_x, out_y):
    """Sutherland–Hodgman: the convex polygon ``xs[:n], ys[:n]`` cut to ``n . q <= c``,
    written to ``out_x, out_y``; returns its vertex count (0: nothing left). A convex
    polygon gains at most one vertex per cut, so outputs of ``n + 1`` always fit."""
    m = 0
    if n == 0:
        return 0
    px = xs[n - 1]
    py = ys[n - 1]
    p_in = nx * px + ny * py <= c
    for i in range(n):
        qx = xs[i]
        qy = ys[i]
        q_in = nx * qx + ny * qy <= c
        if q_in != p_in:  # the edge p -> q crosses the line: add the crossing
            fp = nx * px + ny * py - c
            fq = nx * qx + ny * qy - c
            t = fp / (fp - fq)
            out_x[m] = px + t * (qx - px)
            out_y[m] = py + t * (qy - py)
            m += 1
        if q_in:
            out_x[m] = qx
            out_y[m] = qy
            m += 1
        px = qx
        py = qy
        p_in = q_in
    return m


@numba.njit(cache=True)
def area_centroid(xs, ys, n):
    """Area and centroid of the simple polygon ``xs[:n], ys[:n]`` (counter-clockwise gives a
    positive area), by the shoelace formula. A degenerate polygon has area 0 and centroid at
    its vertex mean (the origin when ``n == 0``)."""
    a = 0.0
    cx = 0.0
    cy = 0.0
    for i in range(n):
        j = i + 1 if i + 1 < n else 0
        cross = xs[i] * ys[j] - xs[j] * ys[i]
        a += cross
        cx += (xs[i] + xs[j]) * cross
        cy += (ys[i] + ys[j]) * cross
    if a == 0.0:
        if n == 0:
            return 0.0, 0.0, 0.0
        return 0.0, xs[:n].mean(), ys[:n].mean()
    return 0.5 * a, cx / (3.0 * a), cy / (3.0 * a)


@numba.njit(cache=True)
def cell(sites, start, stop, xmin, ymin, xmax, ymax, radius, sides, xs, ys, tx, ty):
    """The Voronoi cell of the origin among ``sites[start:stop]``, clipped to the box (and,
    when ``sides > 0``, to the regular ``sides``-gon inscribed in the circle of ``radius``).

    ``xs, ys, tx, ty`` are scratch arrays of at least ``4 + sides + (stop - start)`` entries;
    the cell is left counter-clockwise in ``xs[:n], ys[:n]`` and ``n`` is returned.
    """
    xs[0], ys[0] = xmin, ymin
    xs[1], ys[1] = xmax, ymin
    xs[2], ys[2] = xmax, ymax
    xs[3], ys[3] = xmin, ymax
    n = 4
    in_xs = True
    # the polygon's edge normals point between its vertices; its apothem is r cos(pi / sides)
    apothem = radius * np.cos(np.pi / sides) if sides > 0 else 0.0
    for k in range(sides + stop - start):
        if k < sides:
            angle = (2 * k + 1) * np.pi / sides
            nx = np.cos(angle)
            ny = np.sin(angle)
            c = apothem
        else:
            nx = sites[start + k - sides, 0]
            ny = sites[start + k - sides, 1]
            c = 0.5 * (nx * nx + ny * ny)
        if in_xs:
            n = clip_halfplane(xs, ys, n, nx, ny, c, tx, ty)
        else:
            n = clip_halfplane(tx, ty, n, nx, ny, c, xs, ys)
        in_xs = not in_xs
        if n == 0:
            return 0
    if not in_xs:
        xs[:n] = tx[:n]
        ys[:n] = ty[:n]
    return n
