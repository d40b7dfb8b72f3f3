# expect: raised RecursionError
# `json.dumps` of a 100,000-deep list.
import json
def handler(event, context):
    a = []
    for _ in range(100000):
        a = [a]
    return len(json.dumps(a))
