"""Customer churn: a small, realistic ML workflow on synthetic, seeded data (no download).

params -> generate -> features -> split -> train -> evaluate
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from axl import Workflow, step, workflow

#: Monthly charge above which a customer counts as a "high spender".
HIGH_SPEND = 80.0

PLANS = ("basic", "standard", "premium")


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop impossible rows and clip outliers (tenure in months, charges in dollars)."""
    frame = frame[(frame["tenure"] >= 0) & (frame["monthly_charges"] > 0)]
    return frame.assign(monthly_charges=frame["monthly_charges"].clip(upper=500.0))


@workflow(name="churn", image="axl-churn:latest")
class ChurnWorkflow(Workflow):
    @step
    def params(self) -> dict:
        return {
            "n_customers": 5000,
            "seed": 7,
            "test_fraction": 0.25,
            "n_estimators": 60,
            "max_depth": 6,
        }

    @step
    def generate(self, n_customers: int, seed: int) -> pd.DataFrame:
        """Synthetic customers whose churn depends on tenure, charges, plan and support calls."""
        rng = np.random.default_rng(seed)
        tenure = rng.integers(0, 72, n_customers)
        charges = rng.gamma(4.0, 18.0, n_customers).round(2)
        calls = rng.poisson(1.5, n_customers)
        plan = rng.choice(PLANS, n_customers, p=[0.5, 0.3, 0.2])
        logit = -1.0 - 0.04 * tenure + 0.015 * charges + 0.35 * calls - 0.4 * (plan == "premium")
        churned = rng.random(n_customers) < 1.0 / (1.0 + np.exp(-logit))
        return pd.DataFrame(
            {
                "customer_id": np.arange(n_customers),
                "tenure": tenure,
                "monthly_charges": charges,
                "support_calls": calls,
                "plan": pd.Categorical(plan, categories=PLANS),
                "churned": churned,
            }
        )

    @step
    def features(self, customers: pd.DataFrame) -> pd.DataFrame:
        frame = clean(customers)
        out = pd.DataFrame(
            {
                "tenure": frame["tenure"],
                "monthly_charges": frame["monthly_charges"],
                "support_calls": frame["support_calls"],
                "high_spender": (frame["monthly_charges"] > HIGH_SPEND).astype("int8"),
                "charges_per_month_of_tenure": frame["monthly_charges"] / (frame["tenure"] + 1),
                "churned": frame["churned"].astype("int8"),
            }
        )
        plans = pd.get_dummies(frame["plan"], prefix="plan", dtype="int8")
        return pd.concat([out, plans], axis=1).reset_index(drop=True)

    @step(outputs=("train", "test"))
    def split(self, table: pd.DataFrame, test_fraction: float, seed: int) -> tuple:
        test = table.sample(frac=test_fraction, random_state=seed).sort_index()
        train = table.drop(index=test.index)
        return train.reset_index(drop=True), test.reset_index(drop=True)

    @step(resources={"cpu": "1", "memory": "1Gi"}, retries=1)
    def train(
        self, train: pd.DataFrame, n_estimators: int, max_depth: int
    ) -> RandomForestClassifier:
        model = RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth, random_state=0, n_jobs=1
        )
        model.fit(train.drop(columns="churned"), train["churned"])
        return model

    @step(io_handler="json")
    def evaluate(self, model: RandomForestClassifier, test: pd.DataFrame) -> dict:
        x, y = test.drop(columns="churned"), test["churned"]
        predicted = model.predict(x)
        return {
            "rows": len(test),
            "accuracy": round(float(accuracy_score(y, predicted)), 6),
            "f1": round(float(f1_score(y, predicted)), 6),
            "roc_auc": round(float(roc_auc_score(y, model.predict_proba(x)[:, 1])), 6),
        }

    def graph(self):
        p = self.params()
        customers = self.generate(p["n_customers"], p["seed"])
        table = self.features(customers)
        train, test = self.split(table, p["test_fraction"], p["seed"])
        model = self.train(train, p["n_estimators"], p["max_depth"])
        return self.evaluate(model, test)
