"""hades's own routes over the TCP listener: the reference the other APIs' answers must equal."""

import json
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

DATA = Path(__file__).resolve().parents[2] / "data"


def post(url: str, key: str, route: str, body: Dict[str, Any]) -> Any:
    request = urllib.request.Request(url + route, data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {key}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read())


def embed(service, model: str, texts: List[str], **options: Any) -> List[List[float]]:
    body = {"model": model, "inputs": texts, **options}
    return post(service.url, service.api_key, "/v1/embed", body)["embeddings"]


def minilm_texts(count: int) -> List[str]:
    texts = json.loads((DATA / "minilm" / "reference.json").read_text())["texts"]
    return [t for t in texts if t.strip()][:count]


def max_abs_diff(a, b) -> float:
    assert len(a) == len(b)
    worst = 0.0
    for row_a, row_b in zip(a, b):
        assert len(row_a) == len(row_b)
        worst = max([worst] + [abs(x - y) for x, y in zip(row_a, row_b)])
    return worst
