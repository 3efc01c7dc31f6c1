"""Categories derived from product names, for exports without a category column.

A category an analyst would use ("Kitchen & dining", "Candles & lighting", "Christmas"),
not a word cut from the name. Seasonal words win wherever they are (a Christmas candle is a
Christmas product in a gift shop's calendar); otherwise the name is read from its end, where
the product noun usually is ("HEART T-LIGHT HOLDER", "JUMBO BAG RED RETROSPOT" reads past the
colours and patterns), two-word phrases before single words ("tea towel", "cake case").
Names that match nothing become "Other". The analyst can map a category column instead.
"""

from __future__ import annotations

import re

import pandas as pd

SEASONS = {  # and other words that decide a category wherever they stand
    "Christmas": "CHRISTMAS XMAS SANTA REINDEER ADVENT BAUBLE SNOWFLAKE SNOWMAN NATIVITY "
                 "STOCKING TINSEL ELF",
    "Easter": "EASTER BUNNY CHICK",
    "Halloween": "HALLOWEEN PUMPKIN",
    "Toys, games & crafts": "PLAYHOUSE DOLLHOUSE TOY",
}
# Phrases first, then single words; the first category whose word is nearest the name's end.
PHRASES = {
    "Candles & lighting": "T LIGHT|TEA LIGHT|NIGHT LIGHT|FAIRY LIGHT|STRING LIGHT",
    "Kitchen & dining": "TEA TOWEL|CAKE CASE|CAKE STAND|CAKE TIN|EGG CUP|LUNCH BOX|OVEN GLOVE|"
                        "TEA SET|CAKE FORK|JAM JAR|DRINKS BOTTLE|WATER BOTTLE|SUGAR BOWL|"
                        "NAPKIN RING|CHOPPING BOARD|EGG COSY|TEA COSY",
    "Jewellery & accessories": "KEY RING",
    "Bathroom": "HOT WATER BOTTLE|WASH BAG",
    "Bags": "LUNCH BAG|JUMBO BAG|SHOPPING BAG|TOTE BAG",
    "Garden": "PLANT POT|FLOWER POT|BIRD FEEDER|BIRD HOUSE|BIRD TABLE|WATERING CAN",
    "Stationery & cards": "GIFT WRAP|WRAPPING PAPER|TISSUE PAPER|GIFT TAG|GREETING CARD",
    "Toys, games & crafts": "SPINNING TOP|PLAY HOUSE|TOY CAR|SEWING KIT",
}
WORDS = {
    "Jewellery & accessories": "NECKLACE BRACELET EARRING CHARM BANGLE BROOCH PENDANT "
                               "DIAMANTE TIARA JEWELLERY JEWEL HAIRCLIP SLIDE KEYRING RING",
    "Candles & lighting": "CANDLE TEALIGHT LANTERN LAMP LAMPSHADE LIGHT NIGHTLIGHT INCENSE "
                          "CANDLESTICK MATCH FRAGRANCE OIL DIFFUSER SCENT POTPOURRI",
    "Kitchen & dining": "MUG CUP SAUCER TEAPOT TEACUP PLATE BOWL CUTLERY SPOON FORK KNIFE "
                        "NAPKIN TRAY CAKE APRON JUG COASTER PANTRY KITCHEN CHOPSTICK BISCUIT "
                        "COOKIE MOULD STRAW PICNIC TUMBLER DOILY PLACEMAT BAKING SCOOP LADLE "
                        "GLASS BEAKER TEA COFFEE COSY SQUEEZER GRATER PEELER TONGS WHISK "
                        "COLANDER SIEVE",
    "Bags": "BAG TOTE SHOPPER PURSE RUCKSACK BACKPACK HANDBAG",
    "Storage & boxes": "BOX TIN JAR BASKET HAMPER CRATE STORAGE DRAWER CABINET TRUNK CASE "
                       "CHEST",
    "Garden": "GARDEN PLANTER GNOME TROWEL SEED HERB FEEDER",
    "Stationery & cards": "CARD NOTEBOOK PENCIL PEN ERASER RUBBER STICKER WRAP PAPER ENVELOPE "
                          "TAPE NOTE JOURNAL BOOK DIARY CALENDAR TISSUE RIBBON TAG STAMP "
                          "CRAYON NOTEPAD CHALK",
    "Toys, games & crafts": "TOY GAME PUZZLE JIGSAW DOLL DOLLY SKITTLES TEDDY SOLDIER KITE "
                            "BALL DOMINO DICE MARBLE KIT FELTCRAFT SEWING KNITTING CRAFT",
    "Party & gifts": "PARTY BIRTHDAY BUNTING BALLOON CONFETTI GARLAND WEDDING GIFT CRACKER",
    "Bathroom": "SOAP BATH TOILET SPONGE TOWEL COSMETIC SHOWER FLANNEL HOTTIE",
    "Fashion": "SCARF UMBRELLA HAT GLOVE SOCK SLIPPER PONCHO RAINCOAT",
    "Home decor": "FRAME MIRROR CLOCK CUSHION DOORMAT SIGN PLAQUE HOOK HANGER VASE DOORSTOP "
                  "WALL TILE THROW QUILT BLANKET RUG ORNAMENT DECORATION WREATH HEART STAR "
                  "BIRD FLOWER MAGNET BELL KNOB BOARD THERMOMETER",
}
_KEEP_S = {"GLASS", "CHRISTMAS", "DRESS", "BRASS", "MOSS", "CROSS", "TEALIGHTS"}


def _singular(w: str) -> str:
    if w in _KEEP_S or len(w) <= 3 or not w.endswith("S") or w.endswith("SS"):
        return w
    if w.endswith(("XES", "CHES", "SHES", "SSES", "ZES")):
        return w[:-2]  # boxes, matches, dishes
    return w[:-1]


def _tokens(name: str) -> list[str]:
    # "CANDLES IN BOWL", "BAG WITH HANDLES": the product is what comes before.
    head = re.split(r"\s(?:IN|WITH|ON)\s", str(name).upper())[0]
    return [_singular(w) for w in re.findall(r"[A-Z]+", head)]


_SEASON = {w: cat for cat, words in SEASONS.items() for w in words.split()}
_WORD = {w: cat for cat, words in WORDS.items() for w in words.split()}
_PHRASE = {tuple(p.split()): cat for cat, phrases in PHRASES.items()
           for p in phrases.split("|")}


def categorise(name: str) -> str:
    """The category of one product name (see the module docstring)."""
    tokens = _tokens(name)
    for t in tokens:
        if t in _SEASON:
            return _SEASON[t]
    for end in range(len(tokens), 0, -1):  # from the name's end: the noun is usually there
        if end >= 2 and (hit := _PHRASE.get(tuple(tokens[end - 2:end]))):
            return hit
        if tokens[end - 1] in _WORD:
            return _WORD[tokens[end - 1]]
    return "Other"


def derive_categories(names: pd.Series) -> pd.Series:
    """A category per product name, from a fixed vocabulary a person would use."""
    uniq = names.fillna("").astype(str)
    cats = {n: categorise(n) for n in uniq.unique()}
    return uniq.map(cats).astype("string")
