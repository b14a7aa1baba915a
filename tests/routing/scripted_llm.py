"""A model for ``--router llm --llm tests.routing.scripted_llm:factory``: picks BM25 for
queries with digits and dense for the rest, as a JSON answer."""


def factory():
    def predict(prompt: str) -> str:
        query = prompt.split("Query: ", 1)[1].split("\n", 1)[0]
        route = "bm25" if any(c.isdigit() for c in query) else "dense"
        return f'{{"route": "{route}", "reason": "scripted", "confidence": 0.9}}'

    return predict
