"""Symbolic sizes (`--symbolic`): sizes and channel counts may be sympy symbols.

sympy is imported only here, and only when a spec is read in symbolic mode. The rest of the code
stays free of type checks on values; where a check needs a definite answer (does the kernel fit?
do the groups divide the channels?), it asks `definitely`, which is False when sympy cannot tell.
"""
from __future__ import annotations

from typing import Any


def is_symbolic(value: Any) -> bool:
    """True for a sympy expression that is not a plain number."""
    if type(value) is int:  # the common case, without the failed attribute lookup
        return False
    return hasattr(value, "free_symbols") and bool(value.free_symbols)


def symbol(name: str) -> Any:
    try:
        import sympy
    except ImportError:
        from .errors import OptionError

        raise OptionError("symbolic sizes need sympy, which is not installed",
                          hint="pip install 'cnncalc[symbolic]'") from None
    return sympy.Symbol(name, integer=True, positive=True)


def definitely(condition: Any) -> bool:
    """A comparison that is provably true; False when it is false or cannot be decided."""
    if isinstance(condition, bool):
        return condition
    try:
        return bool(condition)
    except TypeError:  # a sympy relation between symbols
        return False


def nonzero(value: Any) -> bool:
    """`value != 0` when that can be proved (ints, or sympy expressions sympy can decide)."""
    if isinstance(value, int):
        return value != 0
    return getattr(value, "is_zero", None) is False


def to_int(value: Any) -> Any:
    """A sympy Integer as a Python int; anything else unchanged."""
    if type(value) is not int and getattr(value, "is_Integer", False):
        return int(value)
    return value


def largest(values: Any) -> Any:
    """The largest of several sizes: max() for numbers, sympy's Max when one is symbolic."""
    values = list(values)
    if not any(is_symbolic(value) for value in values):
        return max(values)
    import sympy

    return sympy.Max(*values)


def ceil_div(numerator: Any, denominator: Any) -> Any:
    """ceil(a / b) of whole numbers; sympy's ceiling for symbols (not `-floor(-a/b)`, which prints
    as `1 - floor(3/2 - H/2)`)."""
    if not (is_symbolic(numerator) or is_symbolic(denominator)):
        return -(-numerator // denominator)
    import sympy

    return simplified(sympy.ceiling(numerator / denominator))


def simplified(value: Any) -> Any:
    """A size with nested roundings merged: floor(floor(H/2)/2) -> floor(H/4), and
    floor((floor(H/2) - 3)/2) -> floor((H - 6)/4) (for whole n > 0 and k: floor((floor(u) + k)/n)
    = floor((u + k)/n), and likewise for ceiling). Numbers are returned unchanged."""
    if not is_symbolic(value):
        return value
    import sympy

    def merge(rounding: Any) -> Any:
        def rule(expr: Any) -> Any:
            terms = expr.args[0].as_coefficients_dict()
            constant = terms.pop(sympy.S.One, sympy.S.Zero)
            if len(terms) != 1:
                return expr
            (inner, coefficient), = terms.items()
            if not isinstance(inner, rounding) or not coefficient.is_Rational or coefficient.p != 1 \
                    or coefficient.q <= 0 or not (constant * coefficient.q).is_Integer:
                return expr
            return rounding((inner.args[0] + constant * coefficient.q) / coefficient.q)

        return rule

    for rounding in (sympy.floor, sympy.ceiling):
        value = value.replace(lambda expr, r=rounding: isinstance(expr, r), merge(rounding))
    return value


def text(value: Any) -> str:
    """A size or count for people: ints as they are, sympy expressions with each term's common
    factor taken out (`24*(H - 4)*(W - 4)`, not `4*(6*H - 24)*(W - 4)`)."""
    if not is_symbolic(value):
        return str(value)
    import sympy

    terms = value.args if isinstance(value, sympy.Add) else (value,)
    factored = [sympy.factor_terms(term) if isinstance(term, sympy.Mul) else term for term in terms]
    return str(sympy.Add(*factored) if len(factored) > 1 else factored[0])


def factor_text(value: Any) -> str:
    """`text(value)`, in parentheses when it is a sum, for use as a factor: `6×(H - 4)×(W - 4)`."""
    shown = text(value)
    return f"({shown})" if is_symbolic(value) and _is_sum(value) else shown


def _is_sum(value: Any) -> bool:
    import sympy

    return isinstance(value, sympy.Add)


def as_text(value: Any) -> Any:
    """A number for JSON: ints stay ints, symbolic expressions become strings sympy can parse,
    and sympy's plain numbers become ints or floats."""
    if not hasattr(value, "free_symbols"):
        return value
    if value.free_symbols:
        return text(value)
    return int(value) if value.is_Integer else float(value)
