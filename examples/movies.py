"""Statistics per genre over a CSV of movies that lives in the repository (``data/movies.csv``).

The CSV is data from outside the workflow: ``File(p["movie_data"])`` declares it, so its content
is part of ``load``'s key. Edit one Drama row and build again: ``load`` and ``by_genre`` rerun,
then only ``stats-Drama`` (the other genres' rows are the same bytes: early cutoff) and
``report``. ``touch`` the file and nothing reruns. ``--params`` can switch datasets.

    axl run local -m examples/movies.py:MovieStats
"""

from __future__ import annotations

import csv
from typing import Any

from axl import File, OutputRef, Workflow, step

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "SciFi")


class MovieStats(Workflow):
    @step
    def params(self) -> dict[str, Any]:
        return {"movie_data": "examples/data/movies.csv", "min_votes": 20}

    @step
    def load(self, movies: str, min_votes: int) -> list[dict[str, Any]]:
        """Read the CSV (``movies`` is a read-only path to exactly the bytes that were keyed)."""
        with open(movies, newline="", encoding="utf-8") as f:
            rows = [
                {
                    "title": r["title"],
                    "genre": r["genre"],
                    "rating": float(r["rating"]),
                    "votes": int(r["votes"]),
                }
                for r in csv.DictReader(f)
            ]
        return [r for r in rows if r["votes"] >= min_votes]

    @step(outputs=GENRES, io_handler="json")
    def by_genre(self, rows: list[dict[str, Any]]) -> dict[str, list[float]]:
        return {g: [r["rating"] for r in rows if r["genre"] == g] for g in GENRES}

    @step(io_handler="json")
    def stats(self, ratings: list[float]) -> dict[str, float]:
        n = len(ratings)
        mean = sum(ratings) / n if n else 0.0
        return {"movies": n, "mean_rating": round(mean, 3), "best": max(ratings, default=0.0)}

    @step(io_handler="json")
    def report(self, per_genre: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return dict(sorted(per_genre.items(), key=lambda kv: -kv[1]["mean_rating"]))

    def graph(self) -> OutputRef[dict[str, dict[str, float]]]:
        p = self.params()
        rows = self.load(File(p["movie_data"]), p["min_votes"])
        parts = self.by_genre(rows)
        per_genre = {g: self.stats(parts[g], name=f"stats-{g}") for g in GENRES}
        return self.report(per_genre)
