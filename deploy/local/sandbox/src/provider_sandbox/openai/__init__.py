"""The sandbox's OpenAI-compatible API: models, chat completions, responses, embeddings."""
