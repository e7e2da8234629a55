"""Regenerate examples/customers.csv: a small, messy, mixed-type churn table (seeded)."""
import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
n = 800
plans = rng.choice(["basic", "standard", "premium", "family"], n, p=[0.4, 0.3, 0.2, 0.1])
cities = rng.choice([f"city_{i:03d}" for i in range(120)], n)
tenure = rng.gamma(2.0, 12.0, n).round(1)
spend = (20 + 15 * (plans == "premium") + 8 * (plans == "family") + rng.normal(0, 6, n)).round(2)
calls = rng.poisson(1.5, n)
signup = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1200, n), unit="D")
autopay = rng.choice(["yes", "no"], n, p=[0.6, 0.4])
logit = -1.0 + 0.5 * calls - 0.05 * tenure + 0.8 * (autopay == "no") + 0.6 * (plans == "basic") \
    + 0.002 * (signup - pd.Timestamp("2021-01-01")).days
churned = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
frame = pd.DataFrame({
    "customer_id": [f"C{100000 + i}" for i in rng.permutation(n)],
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
frame.to_csv("examples/customers.csv", index=False)
