#!/usr/bin/env python3
"""Fits the polynomial behind Pointwise.erfc (used by the exact GELU): erfc(z) = t*exp(Q(t) - z^2), t = 1/(1 + z/2).

Least squares on Chebyshev nodes against mpmath's erfc; prints the worst relative error over z in [0, 6]
and the coefficients of Q (lowest degree first). Degree 9 is what the Java code uses.
"""
import mpmath as mp, numpy as np
mp.mp.dps = 40
# erfc(z) = t * exp(Q(t) - z^2), t = 1/(1 + z/2): fit Q as a polynomial in t over z in [0, 12]
def target(t):
    z = 2*(1/t - 1)
    return float(mp.log(mp.erfc(z)/t) + z*z)
tmin = 1/(1+6.0)
for deg in (8, 9, 10):
    # Chebyshev nodes on [tmin, 1]
    N = 400
    k = np.arange(N)
    ts = (tmin+1)/2 + (1-tmin)/2*np.cos(np.pi*(k+0.5)/N)
    ys = np.array([target(t) for t in ts])
    c = np.polynomial.chebyshev.Chebyshev.fit(ts, ys, deg, domain=[tmin,1])
    p = c.convert(kind=np.polynomial.Polynomial, domain=[-1,1], window=[-1,1])
    coef = p.coef
    # check relative error of erfc using float32-like evaluation? evaluate in double first
    zs = np.linspace(0, 6, 20001)
    worst = 0
    for z in zs[::10]:
        t = 1/(1+z/2)
        q = np.polyval(coef[::-1], t)
        e = t*np.exp(q - z*z)
        ref = float(mp.erfc(z))
        worst = max(worst, abs(e-ref)/ref)
    print(deg, worst, list(coef))
