"""Language processing for the knowledge pipeline: pure functions, no database, no network.

`text` (sentences, chunks, tokens), `embeddings` (backends), `extract` (per-conversation
analysis), `synthesis` (campaign outputs), `query` (retrieval and answers), `report` (Markdown).
"""
