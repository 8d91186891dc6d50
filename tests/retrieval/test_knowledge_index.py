"""The knowledge index: built from the real corpus, hybrid search finds the right document, filters hold."""

import shutil

import pytest

from evals.suites.rag import load_questions
from knowledge.artifacts import ArtifactError, read_manifest
from knowledge.corpus import CorpusError, corpus_fingerprint, load_corpus
from knowledge.settings import get_settings
from knowledge.corpus_review import record_review
from retrieval.knowledge_index import KnowledgeIndex, build_knowledge_index, stale_reasons
from retrieval.knowledge_query import understand_query
from retrieval.rank_fusion import reciprocal_rank_fusion


@pytest.fixture(scope="module")
def index():
    """The default index (var/index/knowledge), built from the real corpus when missing or stale."""
    return KnowledgeIndex.open()


@pytest.fixture()
def small_corpus(tmp_path):
    """A copy of a few real documents and their Chinese twins, reviewed, to build and break quickly."""
    root = tmp_path / "corpus"
    for sub in ("general", "zh/general"):
        (root / sub).mkdir(parents=True)
        for name in ("abcde-rule", "structure-lacunae", "sun-protection", "ham10000-dataset"):
            shutil.copy(get_settings().corpus_dir / sub / f"{name}.md", root / sub)
    record_review("test reviewer", root)
    return root


def test_the_index_holds_every_section_of_the_real_corpus(index):
    docs = load_corpus()
    assert stale_reasons() == []
    assert len(index) == sum(len(d.sections) for d in docs)
    manifest = read_manifest(index.folder)
    assert manifest.data_fingerprint == corpus_fingerprint()
    assert manifest.metrics["documents"] == len(docs)
    passage = next(p for p in index.passages if p.passage_id == "mel-dermoscopy#2")
    doc = next(d for d in docs if d.id == "mel-dermoscopy")
    assert (passage.doc_id, passage.title, passage.section, passage.text) == ("mel-dermoscopy", doc.title, *doc.sections[1])
    assert passage.references == doc.references and passage.classes == ("mel",)


@pytest.mark.parametrize(
    "question, gold",
    [
        ("what does a blue-white veil indicate", "structure-blue-white-veil"),
        ("how is the total dermoscopy score of Stolz computed", "abcd-rule-of-dermoscopy"),
        ("Mohs surgery for BCC", "bcc-management"),
        ("risk factors for getting melanoma", "mel-epidemiology"),
        # lay wording
        ("is this mole cancer", "nv-differential"),
        ("should I put on sunscreen every day", "sun-protection"),
        ("what should I do if the app says urgent", "assistant-risk-tiers"),
        # Chinese, with Chinese class names
        ("黑色素瘤的治疗方法有哪些", "mel-management"),
        ("基底细胞癌的危险因素", "bcc-epidemiology"),
        ("皮肤纤维瘤在皮肤镜下的特征", "df-dermoscopy"),
        ("蓝白幕是什么意思", "structure-blue-white-veil"),
    ],
)
def test_known_questions_find_their_document_in_the_top_five(index, question, gold):
    hits = index.search(question, k=5)
    assert gold in [h.doc_id for h in hits], [h.passage_id for h in hits]


def test_passages_carry_ids_sources_and_descending_scores(index):
    hits = index.search("arborizing vessels", k=5)
    assert len(hits) == 5 and hits[0].doc_id == "structure-arborizing-vessels"
    assert hits[0].passage_id.startswith("structure-arborizing-vessels#") and hits[0].references
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.doc_id for h in hits}) == 5  # one passage per document


def test_class_and_topic_filters_restrict_the_results(index):
    for hit in index.search("treatment and follow-up", k=8, classes=["df"]):
        assert "df" in hit.classes
    for hit in index.search("what does it look like", k=8, topics=["dermoscopy"]):
        assert "dermoscopy" in hit.topics
    both = index.search("vessels", k=5, classes=["bcc", "vasc"], topics=["dermoscopy"])
    assert both and all({"bcc", "vasc"} & set(h.classes) and "dermoscopy" in h.topics for h in both)
    assert index.search("黑色素瘤怎么治疗", k=3, classes=["mel"], topics=["management"])[0].doc_id == "mel-management"


def test_bad_queries_and_filters_are_clear_errors(index):
    with pytest.raises(KeyError, match="unknown lesion class 'melanoma'"):
        index.search("x", classes=["melanoma"])
    with pytest.raises(ValueError, match="unknown topic"):
        index.search("x", topics=["therapy"])
    with pytest.raises(ValueError, match="empty"):
        index.search("   ")
    with pytest.raises(ValueError, match="k must be"):
        index.search("x", k=0)


def test_fusion_beats_either_ranker_alone_on_the_dev_questions(index):
    """RRF combines both rankers: each misses documents the other finds, and the fused list finds more."""

    def doc_rank(passage_ids, gold):
        docs = list(dict.fromkeys(pid.split("#")[0] for pid in passage_ids))
        return next((i for i, d in enumerate(docs, start=1) if d in gold), None)

    hits = {"dense": 0, "bm25": 0, "fused": 0}
    questions = load_questions(split="dev")
    for q in questions:
        rankings = index.rankings(understand_query(q.question), [], [])
        for name in ("dense", "bm25"):
            rank = doc_rank(rankings[name], q.gold)
            hits[name] += rank is not None and rank <= 5
        every = [pid for pid, _ in reciprocal_rank_fusion(list(rankings.values()))]  # Chinese: + the Chinese rankers
        assert [h.passage_id for h in index.search(q.question, k=5)] == _one_per_doc(every)[:5]
        fused = [pid for pid, _ in reciprocal_rank_fusion([rankings["dense"], rankings["bm25"]])]
        rank = doc_rank(fused, q.gold)
        hits["fused"] += rank is not None and rank <= 5
    assert hits["fused"] > max(hits["dense"], hits["bm25"]), hits


def _one_per_doc(passage_ids):
    seen, out = set(), []
    for pid in passage_ids:
        if pid.split("#")[0] not in seen:
            seen.add(pid.split("#")[0])
            out.append(pid)
    return out


def test_build_is_stale_after_an_edit_and_a_bad_corpus_leaves_the_old_index(tmp_path, small_corpus):
    folder = tmp_path / "knowledge"
    with pytest.raises(ArtifactError, match="run `dermagraph index build`"):
        KnowledgeIndex.open(folder, small_corpus, build_if_needed=False)
    manifest = build_knowledge_index(folder, small_corpus, progress=False)
    assert manifest.metrics["documents"] == 4 and stale_reasons(folder, small_corpus) == []
    index = KnowledgeIndex.open(folder, small_corpus, build_if_needed=False)
    assert index.search("red-blue lagoons in an angioma", k=1)[0].doc_id == "structure-lacunae"
    assert index.search("sunscreen", k=5, classes=["vasc"], topics=["algorithm"]) == []
    index.close()

    doc = small_corpus / "general" / "sun-protection.md"
    doc.write_text(doc.read_text() + "\n## Shade\nSeek shade at midday.\n")
    twin = small_corpus / "zh" / "general" / "sun-protection.md"
    twin.write_text(twin.read_text() + "\n## 遮阴\n正午时分尽量待在阴凉处。\n")
    assert stale_reasons(folder, small_corpus) == ["knowledge corpus changed"]
    with pytest.raises(CorpusError, match="sun-protection.md: changed since it was reviewed"):
        build_knowledge_index(folder, small_corpus, progress=False)  # an edit nobody reviewed is refused
    record_review("test reviewer", small_corpus)
    (small_corpus / "general" / "broken.md").write_text("no front matter\n")
    with pytest.raises(CorpusError, match="broken.md: not in the review record"):
        build_knowledge_index(folder, small_corpus, progress=False)
    with pytest.raises(CorpusError, match="broken.md: no YAML front-matter"):
        record_review("test reviewer", small_corpus)  # a malformed document cannot be vouched for
    assert read_manifest(folder).files == manifest.files  # the failed build touched nothing
    with pytest.warns(UserWarning, match="(?s)serving the previous one.*broken.md"):
        still = KnowledgeIndex.open(folder, small_corpus)  # the app keeps working on the last good index
    assert still.search("sunscreen", k=1)[0].doc_id == "sun-protection"
    still.close()

    (small_corpus / "general" / "broken.md").unlink()
    rebuilt = KnowledgeIndex.open(folder, small_corpus)  # stale, so it rebuilds
    assert rebuilt.twins["sun-protection#" + str(len([p for p in rebuilt.passages if p.doc_id == "sun-protection"]))].section == "遮阴"
    assert any(p.section == "Shade" for p in rebuilt.passages)
    assert len([p for p in folder.iterdir() if p.name.startswith("chroma-")]) == 1  # the old store is gone
