def test_fixture_index_answers_with_citation(service):
    answer = service.answer("cuantos productores de oregano deben capacitarse en secado?")
    assert not answer.abstained
    assert "[1]" in answer.answer or "[2]" in answer.answer
    assert any(s.doc_id == "plan-regional-demo" for s in answer.sources)
