"""Language work every service shares: ``documents`` (the plain text of a document),
``chunking``, ``retrieval`` (BM25 and hybrid ranking), ``sentiment`` and ``intents``;
``samples`` holds the labelled samples that tests and ``bench/knowledge_eval.py`` use."""
