"""Linking measured against a synthetic city's kept truth (small here; 20,000 in the README)."""

from bench.city import generate_city
from bench.evaluate import evaluate


def test_a_synthetic_city_links_at_the_goal_precision_and_recall() -> None:
    result = evaluate(generate_city(people=3000, seed=11))
    assert result.persons.precision >= 0.99
    assert result.persons.recall >= 0.95
    assert result.families.precision >= 0.99
    assert result.families.recall >= 0.95


def test_the_city_is_the_same_for_the_same_seed_and_carries_its_truth() -> None:
    a, b = generate_city(500, seed=3), generate_city(500, seed=3)
    assert [r.data for r in a.records] == [r.data for r in b.records]
    people = {p.person_id for p in a.people}
    assert all(set(r.truth) <= people for r in a.records)


def test_the_linking_report_gives_the_harsh_figures_the_baseline_and_the_rate_ratio() -> None:
    from bench.run import _linking_markdown

    def scored(precision: float, recall: float) -> dict[str, object]:
        return {
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall),
            "pair_completeness": 0.98,
            "review_items": 120,
            "review_purity": 0.5,
        }

    harsh = [
        {
            "people": people,
            "records": people * 2,
            "training_seconds": 5.0,
            "linking_records_per_second": rate,
            "learnt": scored(0.995, 0.96),
            "hand_set": scored(0.9999, 0.85) if people == 20_000 else None,
        }
        for people, rate in ((20_000, 8000.0), (200_000, 4000.0))
    ]
    text = "\n".join(_linking_markdown({"sizes": [], "harsh": harsh, "measured": "today"}))
    assert "| 200,000 | 400,000 | 0.9950 | 0.9600 |" in text
    assert "hand-set model on the 20,000-person sample, precision 0.9999, recall 0.8500" in text
    assert "rate at 200,000 people is 0.50 of the rate at 20,000" in text
