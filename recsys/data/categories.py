"""Categories derived from product names, for exports without a category column.

Gift-shop catalogues like UCI Online Retail name products "colour/pattern ... HEAD NOUN"
("WHITE HANGING HEART T-LIGHT HOLDER"): the last word that is not a colour, size or filler
word is a usable product type. Rare types are pooled into "OTHER".
"""

from __future__ import annotations

import pandas as pd

SKIP_WORDS = set("""
RED PINK BLUE GREEN WHITE BLACK IVORY CREAM GOLD SILVER PURPLE YELLOW ORANGE BROWN GREY GRAY
LARGE SMALL MINI JUMBO MEDIUM BIG GIANT TINY SET SETS OF AND THE WITH IN ON FOR A DESIGN
DESIGNS ASSORTED COLOUR COLOURS CM MM PACK PCS PIECE VINTAGE RETRO RETROSPOT POLKADOT SPOTTY
SPOT SPOTS FLORAL STRIPE STRIPES HEART HEARTS PAISLEY ROSE ROSES LOVE BIRD BIRDS OF X
""".split())


def _head_noun(name: str) -> str:
    words = [w for w in name.upper().replace("-", " ").split() if w.isalpha()]
    for w in reversed(words):
        if w not in SKIP_WORDS and len(w) > 2:
            return w[:-1] if w.endswith("S") and not w.endswith("SS") and len(w) > 4 else w
    return "OTHER"


def derive_categories(names: pd.Series, min_products: int = 5) -> pd.Series:
    """A product type per name; types with fewer than min_products products become OTHER."""
    heads = names.fillna("").astype(str).map(_head_noun)
    counts = heads.value_counts()
    rare = counts.index[counts < min_products]
    return heads.where(~heads.isin(rare), "OTHER").str.title().astype("string")
