#!/usr/bin/env python3
"""Fits the polynomial behind Attention's exp2: 2^f for f in [-1/2, 1/2], relative error.

Weighted least squares on Chebyshev nodes (weights 1/2^f, so the error is relative), in high precision with
mpmath; prints the worst relative error over the interval and the coefficients, lowest degree first.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 30
for deg in (4, 5, 6):
    N = 200
    k = np.arange(N)
    fs = 0.5 * np.cos(np.pi * (k + 0.5) / N)
    A = np.array([[mp.mpf(f) ** j / mp.power(2, f) for j in range(deg + 1)] for f in fs])
    y = np.array([mp.mpf(1) for f in fs])
    # solve the normal equations in mpmath for accuracy
    M = mp.matrix(A.tolist())
    Y = mp.matrix(y.tolist())
    c = mp.lu_solve(M.T * M, M.T * Y)
    coef = [float(c[j]) for j in range(deg + 1)]
    coef[0] = 1.0  # exact at f = 0
    worst = 0
    for f in np.linspace(-0.5, 0.5, 10001):
        p = 0.0
        for cj in reversed(coef):
            p = p * f + cj
        worst = max(worst, abs(p - 2 ** f) / 2 ** f)
    print(deg, worst, coef)
