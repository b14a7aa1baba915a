"""Two tenants in one knowledge base: what the tenancy tests (core, MCP, both adapters)
search. Tenant B's documents name tenant A's entities, and one names them all at once
("Alice Smith Acme Corp"), the longest entity a query can link to."""

from __future__ import annotations

from rag_plugins import Document, KnowledgeBase

TENANT_A = [
    ("a1", "Alice Smith", "Alice Smith joined Acme Corp as chief engineer in 2019 and leads the inverter team."),
    ("a2", "Acme Corp", "Acme Corp builds solar inverters in Lyon and sells them across Europe."),
    ("a3", "Lyon lab", "The Lyon lab of Acme Corp tests inverter firmware every night."),
]
TENANT_B = [
    ("b1", "Salaries", "Acme Corp salary bands are confidential: senior engineers at Acme Corp earn 90k."),
    ("b2", "Merger memo", "Alice Smith Acme Corp merger memo: the acquisition of Acme Corp closes in March."),
    ("b3", "Inverter recall", "Confidential: the solar inverters of Acme Corp will be recalled in Lyon."),
]
PIN = {"tenant": "A"}
# filters a model may write to lift the tenant filter: each passes every tenant's chunks
ATTACKS = [
    {"tenant": {"$ne": None}}, {"tenant": {"$gt": ""}}, {"tenant": {"$exists": True}}, {"tenant": {"$nin": []}},
    {"tenant": {"$ne": "A"}}, {"$or": [{"tenant": "A"}, {"tenant": "B"}]}, {"$not": {"tenant": "A"}},
]


def tenant_documents() -> list[Document]:
    return [Document(i, text, {"tenant": tenant, "title": title})
            for tenant, docs in (("A", TENANT_A), ("B", TENANT_B)) for i, title, text in docs]


def build_tenant_kb(path, embedder=None) -> KnowledgeBase:
    """Both tenants, with a knowledge graph (and dense vectors with ``embedder``)."""
    kb = KnowledgeBase.open(path, embedder=embedder, graph=True, show_progress=False)
    kb.upsert(tenant_documents())
    kb.commit()
    return kb


def tenants_of(hits) -> set[str]:
    return {h.chunk.metadata["tenant"] for h in hits}


def deep_not(depth: int) -> dict:
    """``{"$not": {"$not": ... {"tenant": "A"}}}``, built without recursion."""
    value: dict = {"tenant": "A"}
    for _ in range(depth):
        value = {"$not": value}
    return value
