"""The embedded demo shop: a generated order export in the UCI Online Retail format.

Customers have narrow category tastes, countries, activity levels (most buy rarely, a few
wholesalers buy a lot) and lifetimes (they arrive through the year and lapse after months, so
who bought lately matters, as in real shops); products have Zipf popularity, prices by
category and launch dates (one is launched late, for cold-start demos); orders follow a
seasonal curve with repeat purchases.
It also carries the dirt real exports have (cancellations, guest lines, postage, duplicates)
so that it goes through the real importer and cleaning report.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from recsys.data import load_orders
from recsys.data.readers import RawSource

CATEGORIES = {
    "Candles": (["CANDLE", "TEALIGHT HOLDER", "LANTERN", "CANDLE POT"], 2.5),
    "Kitchen": (["MUG", "TEA TOWEL", "CAKE TIN", "JAM JAR", "LUNCH BOX"], 3.0),
    "Bags": (["TOTE BAG", "JUMBO BAG", "SHOPPER", "PURSE"], 2.2),
    "Garden": (["PLANT POT", "BIRD FEEDER", "WATERING CAN", "GARDEN SIGN"], 4.5),
    "Christmas": (["BAUBLE", "STOCKING", "ADVENT CALENDAR", "STAR DECORATION"], 1.8),
    "Stationery": (["NOTEBOOK", "PENCIL SET", "GIFT WRAP", "GREETING CARD", "STICKERS"], 1.2),
    "Toys": (["SPINNING TOP", "JIGSAW", "SKITTLES", "DOLLY", "PLAYHOUSE"], 3.5),
    "Lighting": (["STRING LIGHTS", "NIGHT LIGHT", "LAMPSHADE"], 6.0),
    "Home decor": (["WALL CLOCK", "PHOTO FRAME", "CUSHION COVER", "DOORMAT", "HOOK"], 5.0),
    "Jewellery": (["NECKLACE", "BRACELET", "EARRINGS", "HAIR SLIDE"], 2.8),
}
COLOURS = ["RED", "PINK", "BLUE", "IVORY", "GREEN", "BLACK", "WHITE", "VINTAGE", "RETRO",
           "SPOTTY", "FLORAL", "HEART", "REGENCY", "PAISLEY", "GINGHAM", "BIRD"]
COUNTRIES = ["United Kingdom"] * 40 + ["Germany", "France", "EIRE", "Spain", "Netherlands",
                                        "Belgium", "Switzerland", "Portugal", "Australia", "Norway"]
START = pd.Timestamp("2010-12-01 08:00")
# The shape of the demo's customers (v2: measured on the campaign backtest, docs/campaigns.md)
LIFE_DAYS = 150.0  # mean time from a customer's first order to their last (exponential)
TASTE = 0.15  # Dirichlet concentration of tastes over categories (lower = narrower)
TASTE_PICK = 0.9  # the share of new draws from the customer's tastes (the rest: any category)
DAYS = 373
# Seasonal lines (``seasonal_lines``): the share of a category's draws kept in each month
# (Jan..Dec); other categories sell all year.
LINE_SEASONS = {"Christmas": [0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.5, 1.0, 1.0, 1.0, 0.6],
                "Garden": [0.2, 0.4, 1.0, 1.0, 1.0, 1.0, 0.8, 0.4, 0.2, 0.2, 0.2, 0.2]}


def _catalogue(n_products: int, rng: np.random.Generator, days: int = DAYS) -> pd.DataFrame:
    cats = list(CATEGORIES)
    cat = rng.integers(0, len(cats), n_products)
    names, prices, seen = [], [], set()
    for _i, c in enumerate(cat):
        nouns, base = CATEGORIES[cats[c]]
        while True:
            name = f"{rng.choice(COLOURS)} {rng.choice(COLOURS)} {rng.choice(nouns)}"
            if name not in seen:
                break
            name = f"{name} {len(seen)}"
            if name not in seen:
                break
        seen.add(name)
        names.append(name)
        prices.append(round(float(base * rng.lognormal(0, 0.45)), 2))
    codes = [f"{20000 + 7 * i}{'ABC'[i % 3] if i % 5 == 0 else ''}" for i in range(n_products)]
    pop = 1.0 / np.arange(1, n_products + 1) ** 0.9  # Zipf: a few best sellers, a long tail
    rng.shuffle(pop)
    launch = np.where(rng.random(n_products) < 0.85, 0.0, rng.uniform(0, days * 0.8, n_products))
    # The cold-start demo product: launched six weeks before the export ends.
    launch[-1] = days - 42
    names[-1] = "NEW " + names[-1]
    return pd.DataFrame({"code": codes, "name": names, "category": [cats[c] for c in cat],
                         "cat": cat, "price": prices, "pop": pop, "launch": launch})


def _dates(days: int) -> pd.DatetimeIndex:
    return START + pd.to_timedelta(np.arange(days), unit="D")


def _season_weights(days: int = DAYS) -> np.ndarray:
    """Order density per day: a growing trend (+100% a year), a Christmas peak in Sep-Nov,
    quiet Saturdays."""
    dates = _dates(days)
    weight = (1 + np.arange(days) / DAYS) * np.where(dates.month.isin([9, 10, 11]), 1.8, 1.0)
    weight *= np.where(dates.dayofweek == 5, 0.1, 1.0)
    return weight / weight.sum()


def make_demo_orders(n_customers: int = 2000, n_products: int = 500, seed: int = 0,
                     days: int = DAYS, seasonal_lines: bool = False) -> pd.DataFrame:
    """A generated shop as raw UCI Online Retail export lines (plus a Category column):
    ``days`` of orders from December 2010; ``seasonal_lines``: Christmas and garden products
    sell mostly in their season (``LINE_SEASONS``)."""
    rng = np.random.default_rng(seed)
    cat = _catalogue(n_products, rng, days)
    n_cat = len(CATEGORIES)
    sampler = _Sampler(cat["cat"].to_numpy(), cat["pop"].to_numpy(), cat["launch"].to_numpy())
    if seasonal_lines:
        sampler.in_season(_dates(days).month.to_numpy() - 1)
    taste = rng.dirichlet(np.full(n_cat, TASTE), n_customers)
    wholesale = rng.random(n_customers) < 0.03
    n_orders = np.where(wholesale, rng.integers(25, 60, n_customers),
                        1 + rng.negative_binomial(1, 0.2, n_customers))
    country = rng.choice(COUNTRIES, n_customers)
    season = _season_weights(days)
    span = _lifetimes(n_customers, days, wholesale, rng)
    rows, invoice = [], 536365
    for c in range(n_customers):
        history: list[int] = []
        first, last = span[c]
        when = first + rng.choice(last - first, size=int(n_orders[c]),
                                  p=season[first:last] / season[first:last].sum())
        for day in np.sort(when + rng.uniform(0.0, 0.45, len(when))):
            size = 1 + rng.poisson(22 if wholesale[c] else 7)
            items = sampler.basket(size, taste[c], day, history, rng)
            history.extend(items)
            lo, hi = (6, 48) if wholesale[c] else (1, 7)
            qty = rng.integers(lo, hi, len(items))
            rows.append((invoice, c, day, items, qty))
            invoice += 1
    return _to_export(rows, cat, country, rng)


def _lifetimes(n: int, days: int, wholesale: np.ndarray, rng: np.random.Generator
               ) -> np.ndarray:
    """Each customer's first and last day (exclusive) in the export: customers arrive
    through the period (some before it) and lapse after months (wholesalers stay longer);
    one who would have lapsed before the export begins arrives during it instead."""
    arrive = rng.uniform(-0.3 * days, days - 7, n)
    life = 7 + rng.exponential(LIFE_DAYS, n) * np.where(wholesale, 4.0, 1.0)
    gone = arrive + life < 7
    arrive[gone] = rng.uniform(0, days - 7, int(gone.sum()))
    lo = np.clip(arrive, 0, days - 7).astype(int)
    hi = np.clip(arrive + life, lo + 7, days).astype(int)
    return np.stack([lo, hi], axis=1)


class _Sampler:
    """Draws products: a category from the customer's taste, then a product by popularity
    within it, vectorised through one cumulative table (category c spans (c, c + 1])."""

    def __init__(self, cats: np.ndarray, pop: np.ndarray, launch: np.ndarray) -> None:
        self.order = np.lexsort((np.arange(len(cats)), cats))
        c, w = cats[self.order], pop[self.order]
        totals = np.bincount(c, weights=w)
        cum = np.cumsum(w)
        start = np.concatenate([[0.0], np.cumsum(totals)])[c]
        self.table = c + (cum - start) / totals[c]
        self.launch = launch
        self.cats = cats
        self.keep: np.ndarray | None = None  # (day, category): share of draws kept

    def in_season(self, month_of_day: np.ndarray) -> None:
        """Seasonal lines: keep a category's draws by the month (``LINE_SEASONS``)."""
        names = list(CATEGORIES)
        by_month = np.ones((12, len(names)))
        for name, share in LINE_SEASONS.items():
            by_month[:, names.index(name)] = share
        self.keep = by_month[month_of_day]

    def basket(self, size: int, taste: np.ndarray, day: float, history: list[int],
               rng: np.random.Generator) -> np.ndarray:
        rebuy = rng.random(size) < (0.3 if history else 0.0)
        n_new = int(size - rebuy.sum())
        taste_pick = rng.random(n_new) < TASTE_PICK
        cat = np.where(taste_pick, rng.choice(len(taste), n_new, p=taste),
                       rng.integers(0, len(taste), n_new))
        pos = np.searchsorted(self.table, cat + rng.random(n_new))
        new = self.order[np.minimum(pos, len(self.order) - 1)]
        new = new[self.launch[new] <= day]  # not on sale yet: the customer buys nothing there
        if self.keep is not None:  # out of season: mostly not bought
            new = new[rng.random(len(new)) < self.keep[int(day), self.cats[new]]]
        old = np.asarray(history)[rng.integers(0, len(history), int(rebuy.sum()))] \
            if history else np.zeros(0, dtype=int)
        return np.unique(np.concatenate([new, old]).astype(int))


def _to_export(rows: list, cat: pd.DataFrame, country: np.ndarray,
               rng: np.random.Generator) -> pd.DataFrame:
    inv = np.concatenate([np.full(len(r[3]), r[0]) for r in rows])
    cust = np.concatenate([np.full(len(r[3]), r[1]) for r in rows])
    day = np.concatenate([np.full(len(r[3]), r[2]) for r in rows])
    item = np.concatenate([r[3] for r in rows])
    qty = np.concatenate([r[4] for r in rows])
    ts = (START + pd.to_timedelta(np.round(day * 1440), unit="min")).strftime("%Y-%m-%d %H:%M:%S")
    df = pd.DataFrame({
        "InvoiceNo": inv.astype(str), "StockCode": cat["code"].to_numpy()[item],
        "Description": cat["name"].to_numpy()[item], "Quantity": qty,
        "InvoiceDate": ts, "UnitPrice": cat["price"].to_numpy()[item],
        "CustomerID": (12346 + cust).astype(float).astype(str), "Country": country[cust],
        "Category": cat["category"].to_numpy()[item],
    })
    df = df.sort_values(["InvoiceDate", "InvoiceNo"], kind="stable").reset_index(drop=True)
    return _add_dirt(df, rng)


def _add_dirt(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """What real exports carry: guest lines, cancellations, postage lines and duplicates."""
    n = len(df)
    guest = rng.random(n) < 0.08
    df.loc[guest, "CustomerID"] = ""
    cancel = df.sample(frac=0.015, random_state=int(rng.integers(1 << 31))).copy()
    cancel["InvoiceNo"] = "C" + cancel["InvoiceNo"]
    cancel["Quantity"] = -cancel["Quantity"]
    post = df.drop_duplicates("InvoiceNo").sample(frac=0.05, random_state=1).copy()
    post[["StockCode", "Description", "Quantity", "UnitPrice", "Category"]] = [
        "POST", "POSTAGE", 1, 18.0, ""]
    dup = df.sample(frac=0.005, random_state=2)
    out = pd.concat([df, cancel, post, dup], ignore_index=True)
    return out.sort_values(["InvoiceDate", "InvoiceNo"], kind="stable").reset_index(drop=True)


def demo_csv_bytes(n_customers: int = 2000, n_products: int = 500, seed: int = 0,
                   **shape) -> bytes:
    """The demo export as CSV bytes, exactly what an analyst would upload (``shape``:
    ``make_demo_orders``' ``days`` and ``seasonal_lines``)."""
    buf = io.StringIO()
    make_demo_orders(n_customers, n_products, seed, **shape).to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


DEMO_VERSION = 2  # bump when the generator changes, so stored copies are rebuilt
DEMO_SIZE = {"n_customers": 2000, "n_products": 500, "seed": 0}


def demo_tag() -> str:
    """The name the workspace stores the demo shop under (changes with the generator)."""
    s = DEMO_SIZE
    return f"demo-v{DEMO_VERSION}-{s['n_customers']}-{s['n_products']}-{s['seed']}"


def load_demo(n_customers: int = 2000, n_products: int = 500, seed: int = 0, **shape):
    """The demo shop imported and cleaned by the real importer (an OrderData; ``shape``:
    ``make_demo_orders``' ``days`` and ``seasonal_lines``). The workspace keeps a copy of
    the default (``Workspace.load_dataset(DatasetRef.demo())``)."""
    raw = demo_csv_bytes(n_customers, n_products, seed, **shape)
    data = load_orders(RawSource(name="demo_online_retail.csv", data=raw))
    data.report.currency = "GBP"  # the generated shop's prices are pounds
    return data
