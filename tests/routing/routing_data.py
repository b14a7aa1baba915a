"""A small corpus where each memory has questions it answers best: error codes and
section numbers (BM25), paraphrases (dense), and how two named things relate (graph)."""

from __future__ import annotations

CORPUS = [
    ("e1", "Error E4012", "Error E4012 means the disk quota of the workspace is exhausted; delete old snapshots."),
    ("e2", "Error E5003", "Error E5003 is raised when the upstream certificate has expired; renew it."),
    ("e3", "Error E1177", "Error E1177 signals that the configuration file has a duplicate key."),
    ("s1", "Section 4.2(b)", "Section 4.2(b) states that refunds are paid within thirty days of a written request."),
    ("s2", "Section 7.1", "Section 7.1 says that either party may end the contract with ninety days notice."),
    ("p1", "Sleep", "Adults who rest fewer than six hours a night show slower reactions and poorer memory."),
    ("p2", "Exercise", "Regular physical activity lowers blood pressure and improves mood over a few weeks."),
    ("p3", "Hydration", "Drinking too little water leaves people tired, irritable and unable to concentrate."),
    ("g1", "Kiss and Tell", "Kiss and Tell is a 1945 film starring Shirley Temple as Corliss Archer."),
    ("g2", "Shirley Temple", "Shirley Temple later served as Chief of Protocol of the United States."),
    ("g3", "Chief of Protocol", "The Chief of Protocol advises the President on diplomatic protocol."),
    ("x1", "Pears", "Pears are sweet fruit that ripen after they are picked."),
]
QUERIES = {
    "q1": ("what does E4012 mean", ["e1"]),
    "q2": ("E5003 certificate", ["e2"]),
    "q3": ("E1177 duplicate key", ["e3"]),
    "q4": ('what does "Section 4.2(b)" say about refunds', ["s1"]),
    "q5": ("Section 7.1 notice period", ["s2"]),
    "q6": ("why am I so forgetful after short nights", ["p1"]),
    "q7": ("does working out help with high blood pressure", ["p2"]),
    "q8": ("why do I feel exhausted when I skip drinks all day", ["p3"]),
    "q9": ("How is Kiss and Tell related to the Chief of Protocol?", ["g1", "g2"]),
    "q10": ("Which office did the star of Kiss and Tell hold?", ["g1", "g2"]),
}
