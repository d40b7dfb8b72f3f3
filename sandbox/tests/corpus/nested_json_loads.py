# expect: raised json.JSONDecodeError
# `json.loads` of 100,000 open brackets stops at the parser's depth limit.
import json
def handler(event, context):
    return json.loads('[' * 100000 + ']' * 100000)
