"""Chunking: sentence ends, headings, pages, table rows, sizes and overlap."""

from __future__ import annotations

import itertools

from appliance.rag.chunking import ChunkingConfig, chunk_blocks, count_tokens, split_sentences
from appliance.rag.parsers import Block, BlockKind


def test_token_estimate_counts_cjk_chars_and_english_words() -> None:
    assert count_tokens("中华人民共和国") == 7
    assert count_tokens("The quick brown fox") == 6  # 4 words x 1.3, rounded up
    assert count_tokens("，。！") == 0


def test_sentences_split_at_chinese_and_english_ends_only() -> None:
    text = "第一句。第二句！“第三句？”他问；Pi is 3.14 here. Next one… 最后"
    assert split_sentences(text) == [
        "第一句。", "第二句！", "“第三句？”", "他问；", "Pi is 3.14 here.", "Next one…", "最后",
    ]  # fmt: skip


def test_chunks_stay_near_the_target_and_overlap() -> None:
    sentences = [f"第{i}条规定要求员工遵守公司的保密制度和信息安全管理办法。" for i in range(60)]
    config = ChunkingConfig(target_tokens=120, overlap_tokens=30)
    chunks = chunk_blocks([Block("".join(sentences))], config)
    assert len(chunks) > 5
    assert all(c.tokens <= 120 for c in chunks)
    for previous, following in itertools.pairwise(chunks):
        last_sentence = split_sentences(previous.text)[-1]
        assert following.text.startswith(last_sentence)
    assert all(text in "".join(c.text for c in chunks) for text in sentences)


def test_headings_and_pages_start_new_chunks_with_their_citation() -> None:
    blocks = [
        Block("总则", BlockKind.HEADING, ("总则",)),
        Block("本办法适用于全体员工。", section=("总则",), page=1),
        Block("第二页的内容。", section=("总则",), page=2),
        Block("附则", BlockKind.HEADING, ("附则",)),
        Block("本办法自发布之日起施行。", section=("附则",), page=2),
    ]
    chunks = chunk_blocks(blocks)
    assert [(c.text, c.page, c.section) for c in chunks] == [
        ("本办法适用于全体员工。", 1, ("总则",)),
        ("第二页的内容。", 2, ("总则",)),
        ("本办法自发布之日起施行。", 2, ("附则",)),
    ]


def test_table_rows_are_never_cut() -> None:
    rows = [
        Block(
            f"姓名: 员工{i} | 部门: 财务部。备注: 已审核。 | 金额: {i * 100}", BlockKind.TABLE_ROW
        )
        for i in range(40)
    ]
    chunks = chunk_blocks(rows, ChunkingConfig(target_tokens=50, overlap_tokens=0))
    lines = [line for c in chunks for line in c.text.split("\n")]
    assert lines == [r.text for r in rows]


def test_a_sentence_longer_than_the_maximum_is_cut_at_commas() -> None:
    long_sentence = "，".join(["这是一个很长的分句"] * 80) + "。"
    chunks = chunk_blocks([Block(long_sentence)], ChunkingConfig(max_tokens=100))
    assert all(c.tokens <= 200 for c in chunks)
    assert "".join(c.text for c in chunks).count("这是一个很长的分句") >= 80
