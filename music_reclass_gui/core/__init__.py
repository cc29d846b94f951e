"""Plain-Python core: audio, tags, library scan, genres, review, organiser. Never imports Qt or torch."""
