"""`music-reclass serve`: the HTTP face (FastAPI on uvicorn) — JSON API, web page, monitoring, live stream.

The only package that imports fastapi/starlette/uvicorn. It shares the engine, feature cache, review session,
journal and undo with the app and the CLI; every write goes through `writes.py`.
"""
