"""recsys: recommendation analytics for shop order data.

Importing this package does no work: no seeding, no downloads, no device checks, no streamlit.
"""

import logging

__version__ = "0.1.0"

# A library logs to whoever listens (the workers write a log); alone, it says nothing.
logging.getLogger(__name__).addHandler(logging.NullHandler())
