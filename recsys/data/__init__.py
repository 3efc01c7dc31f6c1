"""Importing order exports into the canonical ``OrderData`` model."""

from recsys.data.clean import CleaningOptions
from recsys.data.formats import FORMATS, ColumnMapping, Detection, FormatError, detect_format
from recsys.data.loader import ImportOptions, load_orders
from recsys.data.orderdata import OrderData
from recsys.data.readers import ReadError
from recsys.data.report import ImportReport

__all__ = [
    "FORMATS", "CleaningOptions", "ColumnMapping", "Detection", "FormatError", "ImportOptions",
    "ImportReport", "OrderData", "ReadError", "detect_format", "load_orders",
]
