"""Scale-out: classify an archive on a Ray cluster (pipeline.py) into a Parquet results folder (results.py).

Only this package imports ray. results.py needs pyarrow alone, so `music-reclass apply` can read results on a
machine without Ray. Both are the optional extra `cluster` (``pip install -e ".[cluster]"``).
"""
