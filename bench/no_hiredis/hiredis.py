"""Put first on a worker's PYTHONPATH, this hides the real `hiredis`: redis-py then parses replies
and packs commands in Python, as before issue 19 (bench/send_throughput.py --compare-hiredis)."""

raise ImportError("hiredis hidden for a benchmark's baseline")
