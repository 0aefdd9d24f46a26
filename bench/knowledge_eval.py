"""`make knowledge-eval`: how well libs/knowledge answers on its shipped samples.

Retrieval: the Acme Outfitters help centre (knowledge/samples/help-centre) is read with
text_of, cut with chunk_text and indexed with LexicalIndex; each labelled question is ranked
with rank(top_k=3). A hit at k: one of the first k passages is from the labelled document and
contains its answer phrase (case-insensitive); document recall at 3 only asks for the
document. The top passage's lexical relevance is printed for the answerable questions and
for the unanswerable ones, and how many of each a min_score would keep.
Intents: IntentClassifier trained on the train split of samples/intents.json, accuracy on
its test split (overall and per intent) and the share of out-of-domain messages answered
None. Sentiment: sentiment_of's label against samples/sentiment.json. Times are wall clock
on this machine, after one warm-up call.

    .venv/bin/python bench/knowledge_eval.py [--json] [--size 800] [--overlap 150]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

from knowledge.chunking import chunk_text
from knowledge.documents import text_of
from knowledge.intents import IntentClassifier
from knowledge.retrieval import LexicalIndex, rank
from knowledge.samples import (
    sample_documents,
    sample_intent_messages,
    sample_intents,
    sample_out_of_domain,
    sample_questions,
    sample_sentiment,
)
from knowledge.sentiment import sentiment_of

THRESHOLDS = (0.2, 0.3, 0.4, 0.5)


def retrieval(size: int, overlap: int) -> dict[str, Any]:
    items: list[tuple[str, str]] = []
    for name, format, content in sample_documents():
        items += [
            (f"{name}#{c.seq}", c.text)
            for c in chunk_text(text_of(format, content), size=size, overlap=overlap)
        ]
    texts = dict(items)
    LexicalIndex(items)  # warm-up: the stemmer and numpy's first calls
    started = time.perf_counter()
    index = LexicalIndex(items)
    build_ms = (time.perf_counter() - started) * 1000
    copies = -(-300 // len(items))  # the help centre several times over: 300 chunks or more
    larger = [(f"{n}/{key}", text) for n in range(copies) for key, text in items]
    started = time.perf_counter()
    LexicalIndex(larger)
    larger_build_ms = (time.perf_counter() - started) * 1000
    hits1 = hits3 = documents3 = 0
    answerable: list[float] = []
    unanswerable: list[float] = []
    unanswered: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    questions = sample_questions()
    started = time.perf_counter()
    for q in questions:
        passages = rank(q.question, index, texts, top_k=3)
        top = passages[0].lexical if passages else 0.0
        if q.document is None or q.answer_contains is None:
            unanswerable.append(top)
            best = passages[0].key if passages else None
            unanswered.append({"question": q.question, "relevance": round(top, 3), "top": best})
            continue
        answerable.append(top)
        phrase = q.answer_contains.lower()
        found = [p.key.split("#")[0] == q.document and phrase in p.text.lower() for p in passages]
        hits1 += any(found[:1])
        hits3 += any(found)
        documents3 += any(p.key.split("#")[0] == q.document for p in passages)
        if not any(found):
            misses.append(
                {"question": q.question, "expected": q.document, "got": [p.key for p in passages]}
            )
    rank_ms = (time.perf_counter() - started) * 1000 / len(questions)
    n = len(answerable)
    return {
        "documents": len(sample_documents()),
        "chunks": len(items),
        "chunk_size": size,
        "chunk_overlap": overlap,
        "index_build_ms": round(build_ms, 2),
        "larger_index_chunks": len(larger),
        "larger_index_build_ms": round(larger_build_ms, 2),
        "rank_ms_per_question": round(rank_ms, 3),
        "answerable": n,
        "unanswerable": len(unanswerable),
        "recall_at_1": round(hits1 / n, 3),
        "recall_at_3": round(hits3 / n, 3),
        "document_recall_at_3": round(documents3 / n, 3),
        "relevance_answerable": _summary(answerable),
        "relevance_unanswerable": _summary(unanswerable),
        "kept_at_min_score": {
            str(t): {
                "answerable": sum(r >= t for r in answerable),
                "unanswerable": sum(r >= t for r in unanswerable),
            }
            for t in THRESHOLDS
        },
        "misses_at_3": misses,
        "unanswerable_questions": unanswered,
    }


def intents() -> dict[str, Any]:
    training = sample_intents("train")
    IntentClassifier.train(training)  # warm-up: scikit-learn's imports
    started = time.perf_counter()
    classifier = IntentClassifier.train(training)
    train_ms = (time.perf_counter() - started) * 1000
    messages = sample_intent_messages("test")
    right: dict[str, list[bool]] = defaultdict(list)
    started = time.perf_counter()
    for m in messages:
        right[m.label].append(classifier.classify(m.text).intent == m.label)
    classify_us = (time.perf_counter() - started) * 1e6 / len(messages)
    out_of_domain = sample_out_of_domain()
    none = sum(classifier.classify(text).intent is None for text in out_of_domain)
    return {
        "intents": len(training),
        "train_examples": sum(len(i.examples) + 1 for i in training),
        "test_messages": len(messages),
        "train_ms": round(train_ms, 1),
        "classify_us_per_message": round(classify_us, 1),
        "accuracy": round(sum(sum(r) for r in right.values()) / len(messages), 3),
        "accuracy_by_intent": {
            name: round(sum(r) / len(r), 3) for name, r in sorted(right.items())
        },
        "out_of_domain_none": f"{none}/{len(out_of_domain)}",
    }


def sentiment() -> dict[str, Any]:
    messages = sample_sentiment()
    sentiment_of("warm-up")
    started = time.perf_counter()
    labels = [sentiment_of(m.text).label for m in messages]
    per_message_us = (time.perf_counter() - started) * 1e6 / len(messages)
    right: dict[str, list[bool]] = defaultdict(list)
    for m, label in zip(messages, labels, strict=True):
        right[m.label].append(label == m.label)
    return {
        "messages": len(messages),
        "accuracy": round(sum(sum(r) for r in right.values()) / len(messages), 3),
        "accuracy_by_label": {name: round(sum(r) / len(r), 3) for name, r in sorted(right.items())},
        "us_per_message": round(per_message_us, 1),
    }


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "min": 0.0, "max": 0.0}
    return {
        "mean": round(statistics.fmean(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def _print(report: dict[str, Any]) -> None:
    r, i, s = report["retrieval"], report["intents"], report["sentiment"]
    print(f"retrieval: {r['documents']} documents, {r['chunks']} chunks", end=" ")
    print(f"(size {r['chunk_size']}, overlap {r['chunk_overlap']})")
    print(f"  index built in {r['index_build_ms']} ms", end="; ")
    print(f"{r['larger_index_chunks']} chunks in {r['larger_index_build_ms']} ms", end="; ")
    print(f"{r['rank_ms_per_question']} ms a question")
    print(f"  {r['answerable']} answerable questions: recall@1 {r['recall_at_1']},", end=" ")
    print(f"recall@3 {r['recall_at_3']}, document recall@3 {r['document_recall_at_3']}")
    for kind in ("answerable", "unanswerable"):
        v = r[f"relevance_{kind}"]
        print(f"  top relevance, {kind}: mean {v['mean']}, min {v['min']}, max {v['max']}")
    for threshold, kept in r["kept_at_min_score"].items():
        print(
            f"  min_score {threshold} keeps {kept['answerable']}/{r['answerable']} answerable,",
            end=" ",
        )
        print(f"{kept['unanswerable']}/{r['unanswerable']} unanswerable")
    for miss in r["misses_at_3"]:
        got = ", ".join(miss["got"]) or "nothing"
        print(f"  miss: {miss['question']!r}: expected {miss['expected']}, got {got}")
    for q in r["unanswerable_questions"]:
        print(f"  unanswerable: {q['question']!r}: {q['relevance']} ({q['top']})")
    print(f"intents: {i['intents']} intents, {i['train_examples']} training texts,", end=" ")
    print(f"{i['test_messages']} test messages")
    print(f"  trained in {i['train_ms']} ms; {i['classify_us_per_message']} us a message")
    print(f"  accuracy {i['accuracy']}; out-of-domain answered None: {i['out_of_domain_none']}")
    for name, accuracy in i["accuracy_by_intent"].items():
        print(f"    {name}: {accuracy}")
    print(f"sentiment: {s['messages']} messages, accuracy {s['accuracy']},", end=" ")
    print(f"{s['us_per_message']} us a message")
    for name, accuracy in s["accuracy_by_label"].items():
        print(f"    {name}: {accuracy}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--size", type=int, default=800, help="chunk size in characters")
    parser.add_argument("--overlap", type=int, default=150, help="chunk overlap in characters")
    args = parser.parse_args(argv)
    report = {
        "retrieval": retrieval(args.size, args.overlap),
        "intents": intents(),
        "sentiment": sentiment(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)


if __name__ == "__main__":
    main(sys.argv[1:])
