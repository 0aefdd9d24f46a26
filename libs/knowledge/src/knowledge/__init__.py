"""Language work every service shares (documents, chunks, retrieval, classification)."""
