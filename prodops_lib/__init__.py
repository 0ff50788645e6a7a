"""prodops kit: the library behind the Product Ops notebooks and monthly reports."""

__version__ = "0.1.0"
