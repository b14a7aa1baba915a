"""Graph retrieval under a tenant filter: seeds, steps and seed weights come from what the
filter lets through, so another tenant's documents cannot take a query's seeds away."""

import numpy as np
import pytest

from rag_plugins import Document, KnowledgeBase
from rag_plugins.graph import GraphRetriever
from rag_plugins.graph.extraction import Extraction, Mention
from rag_plugins.graph.index import EdgeWeights, GraphIndex
from rag_plugins.graph.store import KnowledgeGraph

QUERY = "Alice Smith Acme Corp"
A = {"tenant": "A"}
NOTES = [Document(f"a{i}", f"Alice Smith met Bob Jones in meeting {i}. Acme Corp hired Alice Smith in {2000 + i}.",
                  {"tenant": "A", "title": f"Note {i}"}) for i in range(12)]
MEMO = Document("b1", "Alice Smith Acme Corp is a private client of ours.", {"tenant": "B", "title": "Secret"})


def base(path, documents):
    kb = KnowledgeBase.open(path, graph=True, show_progress=False)
    kb.upsert(documents)
    kb.commit()
    return kb


@pytest.fixture()
def both(tmp_path):
    return base(tmp_path / "ab", [*NOTES, MEMO])


@pytest.mark.parametrize("mode", ["ppr", "bfs", "paths"])
def test_another_tenants_document_does_not_take_the_seeds(tmp_path, both, mode):
    alone = GraphRetriever(base(tmp_path / "a", NOTES), mode).retrieve(QUERY, k=10, filters=A)
    assert len(alone) == 10
    shared = GraphRetriever(both, mode)
    assert [s.name for s in shared.seeds(QUERY)] == ["Alice Smith Acme Corp"]  # unfiltered: B's entity wins
    seeds = shared.seeds(QUERY, A)
    assert sorted(s.name for s in seeds) == ["Acme Corp", "Alice Smith"]
    hits = shared.retrieve(QUERY, k=10, filters=A)
    assert [h.chunk.id for h in hits] == [h.chunk.id for h in alone]
    assert [h.score for h in hits] == pytest.approx([h.score for h in alone])
    assert shared.seeds(QUERY, A) == seeds  # a filtered search leaves the graph index as it was


def test_seed_weights_count_only_the_chunks_the_filter_lets_through(tmp_path, both):
    alone = sorted(s.weight for s in GraphRetriever(base(tmp_path / "a", NOTES)).seeds(QUERY, A))
    assert sorted(s.weight for s in GraphRetriever(both).seeds(QUERY, A)) == pytest.approx(alone)


def test_entities_only_hidden_chunks_mention_are_never_a_step(both):
    hits = GraphRetriever(both, "paths").retrieve("How are Alice Smith and Bob Jones related?", k=12, filters=A)
    steps = " ".join(p for h in hits for p in h.evidence["paths"])
    assert hits and "Secret" not in steps and "Alice Smith Acme Corp" not in steps
    assert {s["entity"] for h in hits for s in h.evidence["seeds"]} <= {"Alice Smith", "Bob Jones"}


@pytest.mark.parametrize("mode", ["ppr", "bfs", "paths"])
def test_no_path_runs_through_a_hidden_document(tmp_path, mode):
    """Alice Smith and Bob Jones meet only in tenant B's memo: tenant A's search must not
    learn that they are connected, nor the memo's title."""
    mine = [Document("a1", "Alice Smith writes firmware.", {"tenant": "A", "title": "Alice Smith"}),
            Document("a2", "Bob Jones sells inverters.", {"tenant": "A", "title": "Bob Jones"})]
    memo = Document("b1", "Alice Smith and Bob Jones signed the merger.", {"tenant": "B", "title": "Merger memo"})
    query = "How are Alice Smith and Bob Jones related?"
    alone = GraphRetriever(base(tmp_path / "a", mine), mode).retrieve(query, k=5, filters=A)
    hits = GraphRetriever(base(tmp_path / "ab", [*mine, memo]), mode).retrieve(query, k=5, filters=A)
    assert [(h.chunk.id, h.evidence["paths"]) for h in hits] == [(h.chunk.id, h.evidence["paths"]) for h in alone]
    assert [h.score for h in hits] == pytest.approx([h.score for h in alone])
    assert "Merger memo" not in str([h.evidence for h in hits])


def test_hidden_entities_lose_every_edge_and_dense_links():
    kg = KnowledgeGraph()
    kg.apply([], [Extraction("a#0", (Mention("acme", "Acme", 1.0, True),)),
                  Extraction("b#0", (Mention("acme", "Acme", 1.0), Mention("secret", "Secret", 1.0, True)))],
             {"a#0": "a", "b#0": "b"})
    kg.graph.add_edge("e:acme", "e:secret", kind="synonym", synonym=0.95)
    index = GraphIndex(kg)
    chunks = np.array([index.is_chunk[i] and index.chunk_ids[i] == "a#0" for i in range(len(index))])
    visible = index.visible_nodes(chunks | ~index.is_chunk)
    names = {index.nodes[i]: bool(v) for i, v in enumerate(visible)}
    assert names == {"c:a#0": True, "c:b#0": False, "e:acme": True, "e:secret": False}
    adjacency = index.adjacency(EdgeWeights(), visible).toarray()
    secret = index.position["e:secret"]
    assert adjacency[secret].sum() == 0 and adjacency[:, secret].sum() == 0
    assert index.document_frequency(visible)[0][index.position["e:acme"]] == 1
    index.attach_entity_vectors(["acme", "secret"], np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    assert index.nearest_entities(np.array([[0.1, 1.0]]))[0].tolist() == [secret]
    assert index.nearest_entities(np.array([[0.1, 1.0]]), visible)[0].tolist() == [index.position["e:acme"]]



def test_a_hidden_title_does_not_make_a_name_fragment_a_seed(tmp_path):
    """"Shirley Temple" inside "Shirley Temple Black" links to the entity only because some
    document is titled "Shirley Temple": under A's filter, only A's titles count."""
    mine = [Document("a1", "Kiss and Tell stars Shirley Temple Black as Corliss Archer.",
                     {"tenant": "A", "title": "Kiss and Tell"})]
    theirs = Document("b1", "Shirley Temple is a private client.", {"tenant": "B", "title": "Shirley Temple"})
    shared = GraphRetriever(base(tmp_path / "ab", [*mine, theirs]))
    assert {h.chunk.id for h in shared.retrieve("Who is Shirley Temple?", k=5)} == {"b1#0", "a1#0"}
    assert shared.seeds("Who is Shirley Temple?", A) == []
    assert shared.retrieve("Who is Shirley Temple?", k=5, filters=A) == []


def test_synonym_edges_need_entities_the_filter_lets_through(tmp_path, minilm_path):
    """Two names become eligible for a synonym edge only through B's memo naming both."""
    mine = [Document("a1", "Acme Corporation builds solar inverters.", {"tenant": "A", "title": "Inverters"}),
            Document("a2", "Alice Smith works at Acme Corp in Lyon.", {"tenant": "A", "title": "Staff"})]
    memo = Document("b1", "Acme Corporation was sold. Later, Acme Corp was renamed.", {"tenant": "B", "title": "Memo"})
    alone, shared = (KnowledgeBase.open(tmp_path / name, graph=True, embedder=minilm_path, show_progress=False)
                     for name in ("a", "ab"))
    alone.upsert(mine)
    shared.upsert([*mine, memo])
    for kb in (alone, shared):
        kb.commit()
    assert shared.searchable_snapshot().index("graph").kg.graph.edges["e:acme corp", "e:acme corporation"]["kind"] == "synonym"
    query = "Where does Acme Corp work?"
    assert {h.chunk.id for h in GraphRetriever(shared).retrieve(query, k=5)} >= {"a1#0", "a2#0"}
    expected = [(h.chunk.id, h.score) for h in GraphRetriever(alone).retrieve(query, k=5, filters=A)]
    assert [(h.chunk.id, h.score) for h in GraphRetriever(shared).retrieve(query, k=5, filters=A)] == expected


def test_remaining_side_channel_display_names_count_every_tenants_spelling(tmp_path):
    """Documented in the README's Security section: the name shown is the most frequent
    spelling over all tenants; hits and scores do not move."""
    mine = [Document("a1", "Acme Corp builds inverters in Lyon.", {"tenant": "A", "title": "Inverters"})]
    theirs = [Document(f"b{i}", f"ACME CORP memo {i}: ACME CORP is for sale.", {"tenant": "B", "title": f"Memo {i}"})
              for i in range(3)]
    query = "Who is Acme Corp?"
    alone = GraphRetriever(base(tmp_path / "a", mine)).retrieve(query, k=5, filters=A)
    shared = GraphRetriever(base(tmp_path / "ab", [*mine, *theirs])).retrieve(query, k=5, filters=A)
    assert [h.evidence["paths"] for h in alone] == [["Acme Corp → [Inverters]"]]
    assert [h.evidence["paths"] for h in shared] == [["ACME CORP → [Inverters]"]]
    assert [round(h.score, 4) for h in shared] == [round(h.score, 4) for h in alone] == [0.2891]
