"""Regenerate the bundled examples (seeded): ``examples/customers.csv``, a small, messy, mixed-type churn table,
and ``examples/customers_v2.csv``, the same table some months later, drifted: more rows, higher monthly spend,
more support calls, later sign-up dates and a new plan ("enterprise"); tenure, autopay and city are unchanged.

    python examples/make_customers.py
"""
import numpy as np
import pandas as pd


def make(n: int = 800, seed: int = 7, drifted: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    if drifted:
        plans = rng.choice(["basic", "standard", "premium", "family", "enterprise"], n, p=[0.3, 0.25, 0.2, 0.1, 0.15])
    else:
        plans = rng.choice(["basic", "standard", "premium", "family"], n, p=[0.4, 0.3, 0.2, 0.1])
    cities = rng.choice([f"city_{i:03d}" for i in range(120)], n)
    tenure = rng.gamma(2.0, 12.0, n).round(1)
    spend = (20 + 15 * (plans == "premium") + 8 * (plans == "family") + rng.normal(0, 6, n)
             + (12 + 25 * (plans == "enterprise") if drifted else 0)).round(2)
    calls = rng.poisson(3.0 if drifted else 1.5, n)
    first_day = pd.Timestamp("2022-06-01" if drifted else "2021-01-01")
    signup = first_day + pd.to_timedelta(rng.integers(0, 1200, n), unit="D")
    autopay = rng.choice(["yes", "no"], n, p=[0.6, 0.4])
    logit = -1.0 + 0.5 * calls - 0.05 * tenure + 0.8 * (autopay == "no") + 0.6 * (plans == "basic") \
        + 0.002 * (signup - pd.Timestamp("2021-01-01")).days
    if drifted:  # the same customers churn for the same reasons, at a rate the new calls and dates would overshoot
        logit = logit - 1.5
    churned = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame({
        "customer_id": [f"C{(200000 if drifted else 100000) + i}" for i in rng.permutation(n)],
        "signup_date": signup.strftime("%Y-%m-%d"),
        "plan": plans,
        "city": cities,
        "tenure_months": tenure,
        "monthly_spend": spend,
        "support_calls": calls,
        "autopay": autopay,
        "country": "NL",
        "churned": churned,
    })
    for col, share in [("monthly_spend", 0.08), ("plan", 0.05), ("tenure_months", 0.03), ("signup_date", 0.02)]:
        frame.loc[rng.random(n) < share, col] = None
    return frame


if __name__ == "__main__":
    make().to_csv("examples/customers.csv", index=False)
    make(n=1000, seed=8, drifted=True).to_csv("examples/customers_v2.csv", index=False)
