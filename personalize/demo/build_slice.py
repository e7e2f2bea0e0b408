"""Build the demo shop's data from the UCI Online Retail file. Run by hand, then commit the output:

    python -m personalize.demo.build_slice [../shared/datasets/online_retail/online_retail.csv.gz]

Writes personalize/demo/data/products.csv (the catalog, in the import_feed CSV format) and
personalize/demo/data/events.csv.gz (purchases from 2011-09-01 on, in the import_events format).
See data/ATTRIBUTION.md for the source, the licence and what is changed.

Kept lines: a real product (StockCode starting with 5 digits), not a cancellation (InvoiceNo "C…"),
Quantity > 0, UnitPrice > 0. The slice also needs a CustomerID (visitor "c<CustomerID>"); the
benchmark (tests/bench/bench_import.py) keeps guests too, as visitor "guest-<InvoiceNo>".
"""

import argparse
import csv
import gzip
import io
import re
import string
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SOURCE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "datasets"
    / "online_retail"
    / "online_retail.csv.gz"
)
SLICE_SINCE = datetime(2011, 9, 1, tzinfo=UTC)
EVENT_COLUMNS = ("ts", "visitor_id", "type", "product_id", "quantity", "price", "order_id")
PRODUCT_COLUMNS = ("product_id", "title", "url", "image_url", "price", "currency", "categories")
_PRODUCT_CODE = re.compile(r"^\d{5}")
# InvoiceDate is the shop's local time (the UK), so summer dates are an hour ahead of UTC.
_SHOP_TIME = ZoneInfo("Europe/London")

# Description words -> category path; the first rule with a matching word wins, else ["Gifts"].
CATEGORY_RULES: list[tuple[frozenset[str], list[str]]] = [
    (
        frozenset({"CHRISTMAS", "XMAS", "ADVENT", "SANTA", "REINDEER", "NATIVITY", "SNOWFLAKE"}),
        ["Seasonal", "Christmas"],
    ),
    (frozenset({"EASTER", "BUNNY", "CHICK"}), ["Seasonal", "Easter"]),
    (frozenset({"HALLOWEEN"}), ["Seasonal", "Halloween"]),
    (
        frozenset({"CANDLE", "CANDLES", "T-LIGHT", "T-LIGHTS", "TEALIGHT", "LANTERN", "LANTERNS"}),
        ["Home", "Candles"],
    ),
    (
        frozenset({"MUG", "MUGS", "CUP", "CUPS", "TEACUP", "TEACUPS", "SAUCER", "BEAKER"}),
        ["Kitchen", "Mugs & Cups"],
    ),
    (frozenset({"BAG", "BAGS", "SHOPPER", "TOTE", "HANDBAG"}), ["Bags"]),
    (
        frozenset({"CAKE", "CAKES", "CAKESTAND", "BAKING", "COOKIE", "CUTTERS", "CUPCAKE", "MOULD"}),
        ["Kitchen", "Baking"],
    ),
    (
        frozenset(
            {
                "PLATE",
                "PLATES",
                "BOWL",
                "BOWLS",
                "CUTLERY",
                "JUG",
                "TRAY",
                "TEAPOT",
                "NAPKINS",
                "COASTER",
                "COASTERS",
                "PLACEMATS",
                "APRON",
                "TEA",
                "COFFEE",
                "KITCHEN",
            }
        ),
        ["Kitchen", "Tableware"],
    ),
    (
        frozenset({"JAR", "JARS", "TIN", "TINS", "PANTRY", "LUNCH", "STORAGE", "BOX", "BOXES"}),
        ["Kitchen", "Storage"],
    ),
    (frozenset({"PARTY", "BIRTHDAY", "BALLOONS", "BUNTING", "CONFETTI"}), ["Party"]),
    (
        frozenset({"CARD", "CARDS", "WRAP", "RIBBON", "RIBBONS", "TAGS", "TISSUE", "ENVELOPE"}),
        ["Stationery", "Cards & Wrap"],
    ),
    (
        frozenset(
            {
                "NOTEBOOK",
                "PENCIL",
                "PENCILS",
                "PEN",
                "PENS",
                "PAD",
                "STICKER",
                "STICKERS",
                "ERASER",
                "CHALKBOARD",
                "STATIONERY",
                "JOURNAL",
            }
        ),
        ["Stationery", "Writing"],
    ),
    (
        frozenset(
            {
                "TOY",
                "TOYS",
                "DOLL",
                "DOLLY",
                "GAME",
                "GAMES",
                "JIGSAW",
                "PUZZLE",
                "CHILDRENS",
                "KIDS",
                "CRAYONS",
                "PLAYHOUSE",
                "SPACEBOY",
                "DINOSAUR",
            }
        ),
        ["Toys & Kids"],
    ),
    (
        frozenset(
            {"GARDEN", "HERB", "PLANT", "PLANTER", "WATERING", "PARASOL", "PICNIC", "BIRD", "FLOWERPOT"}
        ),
        ["Garden & Outdoor"],
    ),
    (frozenset({"CLOCK", "CLOCKS"}), ["Home", "Clocks"]),
    (frozenset({"LIGHTS", "LAMP", "LAMPSHADE", "LIGHT", "NIGHTLIGHT"}), ["Home", "Lighting"]),
    (frozenset({"CUSHION", "THROW", "BLANKET", "DOORMAT", "QUILT", "HOT"}), ["Home", "Textiles"]),
    (
        frozenset(
            {
                "FRAME",
                "MIRROR",
                "SIGN",
                "PLAQUE",
                "HOOK",
                "HOOKS",
                "DRAWER",
                "KNOB",
                "CABINET",
                "WALL",
                "GARLAND",
                "DECORATION",
                "WREATH",
                "VASE",
                "ORNAMENT",
            }
        ),
        ["Home", "Decor"],
    ),
    (
        frozenset(
            {
                "NECKLACE",
                "BRACELET",
                "EARRINGS",
                "RING",
                "HAIR",
                "PURSE",
                "WALLET",
                "UMBRELLA",
                "SCARF",
                "BROOCH",
                "JEWELLERY",
            }
        ),
        ["Accessories"],
    ),
]
FALLBACK_CATEGORY = ["Gifts"]


def categorize(description: str) -> list[str]:
    words = set(description.upper().replace(",", " ").split())
    for keywords, path in CATEGORY_RULES:
        if words & keywords:
            return path
    return FALLBACK_CATEGORY


def read_lines(source: Path) -> Iterator[dict]:
    """The kept invoice lines of the UCI file (see the module docstring), with a UTC time."""
    with gzip.open(source, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            code = row["StockCode"].strip().upper()
            if row["InvoiceNo"].startswith("C") or not _PRODUCT_CODE.match(code):
                continue
            quantity, price = int(row["Quantity"]), float(row["UnitPrice"])
            if quantity <= 0 or price <= 0:
                continue
            local = datetime.strptime(row["InvoiceDate"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=_SHOP_TIME)
            yield {
                "invoice": row["InvoiceNo"],
                "code": code,
                "description": row["Description"].strip(),
                "quantity": row["Quantity"],
                "price": row["UnitPrice"],
                "customer": row["CustomerID"].strip(),
                "ts": local.astimezone(UTC),
            }


def event_row(line: dict, *, guests: bool) -> list[str] | None:
    """A kept line as an import_events row; None for a guest's line unless `guests`."""
    if line["customer"]:
        visitor = "c" + line["customer"]
    elif guests:
        visitor = "guest-" + line["invoice"]
    else:
        return None
    ts = line["ts"].strftime("%Y-%m-%dT%H:%M:%SZ")
    return [ts, visitor, "purchase", line["code"], line["quantity"], line["price"], line["invoice"]]


def write_events(source: Path, out, *, since: datetime | None, guests: bool) -> int:
    """Write the import_events CSV of the kept lines to the text stream `out`; returns the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    count = 0
    for line in read_lines(source):
        if since is not None and line["ts"] < since:
            continue
        row = event_row(line, guests=guests)
        if row is not None:
            writer.writerow(row)
            count += 1
    return count


def build_products(source: Path) -> list[list[str]]:
    descriptions: dict[str, Counter] = defaultdict(Counter)
    prices: dict[str, Counter] = defaultdict(Counter)
    for line in read_lines(source):
        if line["description"]:
            descriptions[line["code"]][line["description"]] += 1
        prices[line["code"]][line["price"]] += 1
    rows = []
    for code in sorted(prices):
        description = descriptions[code].most_common(1)[0][0] if descriptions[code] else f"Item {code}"
        rows.append(
            [
                code,
                string.capwords(description),
                f"/demo/product/{code}/",
                "",
                prices[code].most_common(1)[0][0],
                "GBP",
                " > ".join(categorize(description)),
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    if not args.source.exists():
        sys.exit(f"{args.source} not found: pass the path of online_retail.csv.gz")
    args.out.mkdir(parents=True, exist_ok=True)
    products = build_products(args.source)
    with (args.out / "products.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(PRODUCT_COLUMNS)
        writer.writerows(products)
    # mtime=0: the same input gives the same bytes, so a rebuild shows no diff.
    with (
        gzip.GzipFile(args.out / "events.csv.gz", "wb", mtime=0) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="") as f,
    ):
        events = write_events(args.source, f, since=SLICE_SINCE, guests=False)
    print(f"{len(products)} products, {events} events written to {args.out}")


if __name__ == "__main__":
    main()
