"""Generate ``movies.csv``: 3,000 synthetic movies (title, year, genre, rating, votes).

Source: made up by this script with a fixed seed (no real titles, no licence questions); run
``python examples/data/make_movies.py`` to write the same bytes again.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "SciFi")
WORDS = [
    "Night",
    "Storm",
    "River",
    "Last",
    "Silent",
    "Golden",
    "Broken",
    "Hidden",
    "Lost",
    "Iron",
    "Paper",
    "Glass",
    "Summer",
    "Winter",
    "Red",
    "Blue",
    "Echo",
    "Shadow",
    "Star",
    "Garden",
    "City",
    "Road",
    "Ocean",
    "Machine",
    "Heart",
    "Secret",
    "Wild",
    "Quiet",
]


def rows(count: int = 3000, seed: int = 16) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        title = " ".join(rng.sample(WORDS, rng.randint(1, 3))) + f" {i + 1}"
        genre = GENRES[rng.randrange(len(GENRES))]
        rating = round(min(10.0, max(1.0, rng.gauss(6.4, 1.3))), 1)
        out.append(
            [
                title,
                str(rng.randint(1950, 2024)),
                genre,
                f"{rating:.1f}",
                str(int(rng.lognormvariate(6, 1.4))),
            ]
        )
    return out


def main() -> None:
    path = Path(__file__).with_name("movies.csv")
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["title", "year", "genre", "rating", "votes"])
        writer.writerows(rows())


if __name__ == "__main__":
    main()
