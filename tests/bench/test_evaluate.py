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
