"""recsys: recommendation analytics for shop order data.

Importing this package does no work: no seeding, no downloads, no device checks, no streamlit.
"""

__version__ = "0.1.0"
